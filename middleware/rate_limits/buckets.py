"""Who is counted against what: the client key, the buckets, and their exemptions.

Contract:
- ``client_address()`` is the key of every bucket: ``request.remote_addr`` (the socket
  peer, or what ``ProxyFix`` set from ``X-Forwarded-For`` when ``TRUSTED_PROXIES=N``;
  forwarding headers are never read here, so a direct client cannot pick its bucket),
  IPv6 grouped by /64 (one customer's usual allocation), IPv4-mapped IPv6 as the IPv4
  address, anything unparsable in one ``invalid`` bucket.
- ``APPLICATION_LIMITS`` are counted on every request they apply to, each in a bucket of
  its own per client: **adding a limit is one line here** (a scope, the config key of
  its rate string, and whether it applies). The response cache's fast path counts its
  hits in the same buckets (``charge_for`` in ``__init__``), so a new limit keeps hits
  below Flask.
- ``RATELIMIT_AUTH`` (scope ``auth``) is counted on top over the routes of the
  blueprint given to ``limit_auth_routes`` (``/api/v1/auth/*``).
- ``exempt_from_limits(blueprint_or_view)`` records an exemption from every limit
  (health, the docs UI, the dashboard, /metrics); it returns its argument unchanged.
- ``ENVIRON_TWINS``: every request-time callable above as a function of the WSGI
  environ, for counting below Flask.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, current_app, request

IPV6_PREFIX = 64
API_POLICY = "api"
AUTH_POLICY = "auth"

T = TypeVar("T")


def client_address() -> str:
    """The rate-limit key: the client's address, IPv6 reduced to its /64."""
    return address_key(request.remote_addr)


def address_key(remote_addr: str | None) -> str:
    """``client_address`` for a raw ``REMOTE_ADDR`` (also used below Flask's dispatch)."""
    raw = remote_addr or ""
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return "invalid"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        host_bits = 128 - IPV6_PREFIX
        network = ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_PREFIX))
        return str(network)
    return str(address)


def is_api_path(path: str) -> bool:
    """Whether ``path`` (``request.path``) is under ``/api/``, where the api limits apply."""
    return path.startswith("/api/")


def outside_api() -> bool:
    return not is_api_path(request.path)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One application-wide limit: its scope (the bucket's name in keys and headers), the
    config key holding its rate string, and when it does not apply."""

    scope: str
    config_key: str
    exempt_when: Callable[[], bool] | None = None

    def rate(self) -> str:
        return str(current_app.config[self.config_key])


APPLICATION_LIMITS: list[Bucket] = [
    Bucket(API_POLICY, "RATELIMIT_API", exempt_when=outside_api),
]

_exempt: dict[str, Blueprint | Callable[..., Any]] = {}
_auth_blueprints: dict[str, Blueprint] = {}


def exempt_from_limits(obj: T) -> T:
    """Record a blueprint or view as exempt from every limit; returns it unchanged."""
    name = obj.name if isinstance(obj, Blueprint) else getattr(obj, "__qualname__", repr(obj))
    _exempt[name] = obj  # type: ignore[assignment]
    return obj


def exemptions() -> list[Blueprint | Callable[..., Any]]:
    return list(_exempt.values())


def limit_auth_routes(auth_blueprint: T) -> T:
    """Count ``auth_blueprint``'s routes against RATELIMIT_AUTH too; returns it unchanged."""
    assert isinstance(auth_blueprint, Blueprint)
    _auth_blueprints[auth_blueprint.name] = auth_blueprint
    return auth_blueprint


def auth_blueprints() -> list[Blueprint]:
    return list(_auth_blueprints.values())


def auth_rate() -> str:
    return str(current_app.config["RATELIMIT_AUTH"])


def _environ_path(environ: Any) -> str:
    return "/" + str(environ.get("PATH_INFO", "")).lstrip("/")  # request.path


ENVIRON_TWINS: dict[Any, Callable[[Any], Any]] = {
    client_address: lambda environ: address_key(environ.get("REMOTE_ADDR")),
    outside_api: lambda environ: not is_api_path(_environ_path(environ)),
}
