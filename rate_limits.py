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
- Every limited response carries ``X-RateLimit-Limit/-Remaining/-Reset`` and the
  IETF ``RateLimit-Policy`` / ``RateLimit`` fields (draft-ietf-httpapi-ratelimit-
  headers-11, e.g. ``"api";q=100;w=900`` and ``"api";r=57;t=600``), all from one
  formatter (``rate_limit_headers``) on both paths: Flask's (``add_standard_headers``,
  from Flask-Limiter's evaluated limits) and the response cache's fast path (its
  ``LimiterCharge``, ``charge_for``). ``Retry-After`` appears only on a 429 from these
  limits (seconds until the breached window resets) or where a view set its own.
- A 429 uses the shared JSON error shape (errors.py).
- Fast-path cache hits are counted in the same buckets by the response cache's
  ``LimiterCharge`` (one round trip with the entry's read); it needs the request-time
  callables below as functions of the WSGI environ (``ENVIRON_TWINS``).
- ``failed_logins()`` counts failed logins per account (``RATELIMIT_LOGIN_FAILURES``,
  keyed by a hash of the normalised e-mail, known or not) on the same storage.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import ApplicationLimit, Limiter
from flask_response_cache import fast_hit_safe
from flask_response_cache.contrib.flask_limiter import LimiterCharge, LimitState, states_of
from limits import parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from limiter_storage import SCHEME, FailoverStorage
from redis_link import RedisLink

IPV6_PREFIX = 64
API_POLICY = "api"
AUTH_POLICY = "auth"

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


def limit_auth_routes(auth_blueprint: Blueprint) -> None:
    """Count ``auth_blueprint``'s routes against RATELIMIT_AUTH too."""
    _auth_blueprints[auth_blueprint.name] = auth_blueprint


def _api_limit() -> str:
    return str(current_app.config["RATELIMIT_API"])


def _auth_limit() -> str:
    return str(current_app.config["RATELIMIT_AUTH"])


def outside_api() -> bool:
    return not is_api_path(request.path)


def is_api_path(path: str) -> bool:
    """Whether ``path`` (``request.path``) is under ``/api/``, where RATELIMIT_API applies."""
    return path.startswith("/api/")


def build_storage(link: RedisLink | None) -> Storage:
    return FailoverStorage(f"{SCHEME}://", link=link) if link else MemoryStorage()


def configure_limiter(app: Flask) -> None:
    """One Limiter per app (Flask-Limiter keeps its storage on the instance)."""
    link: RedisLink | None = app.extensions.get("redis_link")
    limiter = Limiter(
        key_func=client_address,
        application_limits=[
            ApplicationLimit(limit_provider=_api_limit, scope=API_POLICY, exempt_when=outside_api)
        ],
        strategy="fixed-window",
        storage_uri=f"{SCHEME}://" if link else "memory://",
        storage_options={"link": link} if link else {},  # type: ignore[dict-item]
        # One formatter writes every rate-limit header (add_standard_headers).
        headers_enabled=False,
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


def rate_limit_headers(states: Sequence[LimitState]) -> list[tuple[str, str]]:
    """Every rate-limit header of one response, from the limits it was counted against."""
    if not states:
        return []
    now = time.time()
    breached = [state for state in states if state.breached]
    explicit = [state for state in states if not state.shared]
    shown = breached[-1] if breached else (explicit[0] if explicit else states[0])
    reset_at = int(shown.reset_at + 1)
    headers = [
        ("X-RateLimit-Limit", str(shown.item.amount)),
        ("X-RateLimit-Remaining", str(max(0, shown.remaining))),
        ("X-RateLimit-Reset", str(reset_at)),
    ]
    if breached:
        headers.append(("Retry-After", str(max(0, int(reset_at - now)))))
    policies = [f'"{s.scope}";q={s.item.amount};w={s.item.get_expiry()}' for s in states]
    windows = [
        f'"{s.scope}";r={max(0, s.remaining)};t={max(0, math.ceil(s.reset_at - now))}'
        for s in states
    ]
    headers += [("RateLimit-Policy", ", ".join(policies)), ("RateLimit", ", ".join(windows))]
    return headers


@fast_hit_safe("the fast path's LimiterCharge formats the same headers")
def add_standard_headers(response: Response) -> Response:
    """The rate-limit headers of a request Flask-Limiter counted (``rate_limit_headers``);
    ``Retry-After`` only on this limiter's own 429, never over a view's own."""
    limiter: Limiter = current_app.extensions["rate_limits"]
    evaluated = limiter.current_limits
    for name, value in rate_limit_headers(states_of(evaluated)):
        if name != "Retry-After" or name not in response.headers:
            response.headers[name] = value
    return response


def _environ_path(environ: Any) -> str:
    return "/" + str(environ.get("PATH_INFO", "")).lstrip("/")  # request.path


# The request-time callables of these limits, as functions of the WSGI environ.
ENVIRON_TWINS: dict[Any, Callable[[Any], Any]] = {
    client_address: lambda environ: address_key(environ.get("REMOTE_ADDR")),
    outside_api: lambda environ: not is_api_path(_environ_path(environ)),
}


def charge_for(app: Flask) -> LimiterCharge:
    """The response cache's fast-path charge for this app's limiter."""
    limiter: Limiter = app.extensions["rate_limits"]
    return LimiterCharge(limiter, environ_functions=ENVIRON_TWINS, headers=rate_limit_headers)


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
