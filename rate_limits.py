"""Rate limits: one bucket per client for all of ``/api/``, a stricter one for auth,
and failed logins counted per account.

Contract:
- ``RATELIMIT_API`` is one application-wide bucket (policy ``api``) per client
  address over every ``/api/`` route; ``RATELIMIT_AUTH`` (policy ``auth``) is
  counted on top of it over ``/api/v1/auth/*``. Blueprints and views passed to
  ``exempt_from_limits`` (health; metrics live outside ``/api/``) are never limited.
- The client address is ``request.remote_addr``: the socket peer, or what
  ``ProxyFix`` set from ``X-Forwarded-For`` when ``TRUSTED_PROXIES=N`` (wsgi.py).
  Forwarding headers are never read here, so a direct client cannot pick its
  bucket. IPv6 clients are grouped by /64 (one customer's usual allocation),
  IPv4-mapped IPv6 counts as the IPv4 address, and anything unparsable shares
  one ``invalid`` bucket.
- Counters live in Redis under ``rl:`` through ``limiter_storage.FailoverStorage``
  (per-process memory while Redis is unavailable, back on Redis when the
  breaker closes); embedded mode uses ``memory://``.
- Every limited response carries ``X-RateLimit-Limit/-Remaining/-Reset``
  (Flask-Limiter) and the IETF ``RateLimit-Policy`` / ``RateLimit`` fields
  (draft-ietf-httpapi-ratelimit-headers-11, e.g. ``"api";q=100;w=900`` and
  ``"api";r=57;t=600``). ``Retry-After`` appears only on a 429 from these limits
  (seconds until the breached window resets) or where a view set its own.
- A 429 uses the shared JSON error shape (errors.py).
- The ``api`` bucket is normally counted by ``api_limit.py`` in one round trip (the
  fast path's ``LimiterCharge``, on the Flask path too): such a request carries its
  headers in the environ (``COUNTED_HEADERS``), Flask-Limiter skips it (request filter
  ``counted_elsewhere``) and ``add_standard_headers`` sets them. Routes with limits of
  their own (auth) are counted by Flask-Limiter as usual. A request marked
  ``PRECHARGED`` without headers (should the filter be missing) costs 0 here.
- ``failed_logins()`` counts failed logins per account (``RATELIMIT_LOGIN_FAILURES``,
  keyed by a hash of the normalised e-mail, known or not) on the same storage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import ApplicationLimit, HeaderNames, Limiter, RequestLimit
from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from limiter_storage import SCHEME, FailoverStorage
from redis_link import RedisLink

IPV6_PREFIX = 64
API_POLICY = "api"
AUTH_POLICY = "auth"
# Flask-Limiter writes its Retry-After here; add_standard_headers keeps it only
# on its own 429s (it would otherwise stamp every response, and raise a 503's
# short Retry-After to the end of the rate-limit window).
_LIMITER_RETRY_AFTER = "X-Limiter-Retry-After"
# Set in the WSGI environ by a layer below Flask (the response cache's fast path,
# fast_path_limits.py) that already counted this request in the "api" bucket:
# Flask-Limiter then deducts 0, so every request is counted exactly once.
PRECHARGED = "rate_limits.precharged"
# The rate-limit headers of a request already counted in one round trip (api_limit.py,
# or the fast path before handing the request on): Flask-Limiter skips such a request
# (``counted_elsewhere`` is its request filter) and add_standard_headers sets these.
COUNTED_HEADERS = "rate_limits.counted_headers"

T = TypeVar("T")
_exempt: dict[str, Blueprint | Callable[..., Any]] = {}
_auth_blueprints: dict[str, Blueprint] = {}


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


def exempt_from_limits(obj: T) -> T:
    """Record a blueprint or view as exempt from every limit; returns it unchanged."""
    name = obj.name if isinstance(obj, Blueprint) else getattr(obj, "__qualname__", repr(obj))
    _exempt[name] = obj  # type: ignore[assignment]
    return obj


def apply_limits(auth_blueprint: Blueprint, exempt: list[Blueprint]) -> None:
    """Mark the auth blueprint for RATELIMIT_AUTH and the exemptions (at import)."""
    _auth_blueprints[auth_blueprint.name] = auth_blueprint
    for blueprint in exempt:
        exempt_from_limits(blueprint)


def _api_limit() -> str:
    return str(current_app.config["RATELIMIT_API"])


def _auth_limit() -> str:
    return str(current_app.config["RATELIMIT_AUTH"])


def outside_api() -> bool:
    return not is_api_path(request.path)


def is_api_path(path: str) -> bool:
    """Whether ``path`` (``request.path``) is under ``/api/``, where RATELIMIT_API applies."""
    return path.startswith("/api/")


def api_cost() -> int:
    """1, or 0 when a layer below Flask already counted this request (``PRECHARGED``)."""
    return 0 if request.environ.get(PRECHARGED) else 1


def counted_elsewhere() -> bool:
    """Flask-Limiter request filter: True when this request was counted already, with
    its headers kept in the environ (``COUNTED_HEADERS``), by ``api_limit``."""
    return COUNTED_HEADERS in request.environ


def build_storage(link: RedisLink | None) -> Storage:
    return FailoverStorage(f"{SCHEME}://", link=link) if link else MemoryStorage()


def configure_limiter(app: Flask) -> None:
    """One Limiter per app (Flask-Limiter keeps its storage on the instance)."""
    link: RedisLink | None = app.extensions.get("redis_link")
    limiter = Limiter(
        key_func=client_address,
        application_limits=[
            ApplicationLimit(
                limit_provider=_api_limit,
                scope=API_POLICY,
                exempt_when=outside_api,
                cost=api_cost,
            )
        ],
        strategy="fixed-window",
        storage_uri=f"{SCHEME}://" if link else "memory://",
        storage_options={"link": link} if link else {},  # type: ignore[dict-item]
        headers_enabled=True,
        header_name_mapping={HeaderNames.RETRY_AFTER: _LIMITER_RETRY_AFTER},
        in_memory_fallback_enabled=True,  # a backstop: FailoverStorage never raises
        swallow_errors=False,
    )
    for blueprint in _auth_blueprints.values():
        limiter.shared_limit(_auth_limit, scope=AUTH_POLICY, override_defaults=False)(blueprint)
    for obj in _exempt.values():
        limiter.exempt(obj)
    # Registered before init_app so it runs after Flask-Limiter's own hook.
    app.after_request(add_standard_headers)
    limiter.init_app(app)
    app.extensions["rate_limits"] = limiter
    app.extensions["failed_logins"] = FailedLogins(
        build_storage(link), app.config["RATELIMIT_LOGIN_FAILURES"]
    )


def _policy_name(limit: RequestLimit) -> str:
    return str(limit.request_args[-1])


def add_standard_headers(response: Response) -> Response:
    """IETF RateLimit fields for every evaluated limit; Retry-After only where it means it."""
    counted: list[tuple[str, str]] | None = request.environ.get(COUNTED_HEADERS)
    if counted is not None:  # counted in one round trip; Flask-Limiter skipped it
        for name, value in counted:
            response.headers[name] = value
        return response
    limiter: Limiter = current_app.extensions["rate_limits"]
    limiter_retry_after = response.headers.pop(_LIMITER_RETRY_AFTER, None)
    current = limiter.current_limit
    own_breach = current is not None and current.breached
    if own_breach and limiter_retry_after is not None and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = limiter_retry_after
    evaluated = limiter.current_limits
    if evaluated:
        now = time.time()
        policies, states = [], []
        for limit in evaluated:
            name = _policy_name(limit)
            reset_at, remaining = limit.window
            policies.append(f'"{name}";q={limit.limit.amount};w={limit.limit.get_expiry()}')
            states.append(f'"{name}";r={max(0, remaining)};t={max(0, math.ceil(reset_at - now))}')
        response.headers["RateLimit-Policy"] = ", ".join(policies)
        response.headers["RateLimit"] = ", ".join(states)
    return response


class FailedLogins:
    """Failed logins per account: OWASP Authentication, "count per account, not per IP".

    The window is fixed (``RATELIMIT_LOGIN_FAILURES``, e.g. 5 per 15 minutes)
    and never grows, so a third party can hold an account's logins back for one
    window at a time, never lock it for good.
    """

    SCOPE = "login-failures"

    def __init__(self, storage: Storage, limit: str) -> None:
        self._limit = parse(limit)
        self._strategy = FixedWindowRateLimiter(storage)

    def _key(self, account: str) -> str:
        # A hash keeps e-mail addresses out of Redis keys and bounds their length.
        return hashlib.sha256(account.encode()).hexdigest()[:32]

    def retry_after(self, account: str) -> int:
        """0 when the account may try again now, else whole seconds to wait."""
        key = self._key(account)
        if self._strategy.test(self._limit, self.SCOPE, key):
            return 0
        reset_at, _ = self._strategy.get_window_stats(self._limit, self.SCOPE, key)
        return max(1, math.ceil(reset_at - time.time()))

    def record_failure(self, account: str) -> None:
        self._strategy.hit(self._limit, self.SCOPE, self._key(account))

    def forget(self, account: str) -> None:
        self._strategy.clear(self._limit, self.SCOPE, self._key(account))


def failed_logins() -> FailedLogins:
    throttle: FailedLogins = current_app.extensions["failed_logins"]
    return throttle
