"""Rate limits: Flask-Limiter configured once, its buckets counted the same on both paths.

Contract (``init_rate_limits(app)``, after ``init_redis_link``):
- One ``Limiter`` per app (Flask-Limiter keeps its storage on the instance), fixed
  windows, the buckets of ``buckets.APPLICATION_LIMITS`` per client address, plus
  ``RATELIMIT_AUTH`` over the auth routes; exemptions from ``exempt_from_limits``.
- Counters live in Redis under ``rl:`` through ``storage.FailoverStorage``
  (per-process memory while Redis is unavailable, back on Redis when the breaker
  closes; one round trip per request); embedded mode uses ``memory://``.
- Headers: ``headers.add_standard_headers`` writes them all (Flask-Limiter's own
  injection is off); a 429 uses the shared JSON error shape (errors.py).
- ``charge_for(app)`` is the response cache's fast-path charge on this limiter (the
  package's ``LimiterCharge``, with ``buckets.ENVIRON_TWINS`` and the same header
  formatter): a cache hit below Flask is counted in the same buckets, exactly once.
  Every private detail of Flask-Limiter that needs is in the package
  (``flask_response_cache/contrib/_flask_limiter_compat.py``, pinned by its test).
- ``failed_logins()`` counts failed logins per account (``failed_logins.py``).
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import ApplicationLimit, Limiter
from flask_response_cache.contrib.flask_limiter import LimiterCharge
from limits.storage import MemoryStorage, Storage

from middleware.rate_limits import buckets
from middleware.rate_limits.buckets import (
    AUTH_POLICY,
    client_address,
    exempt_from_limits,
    limit_auth_routes,
)
from middleware.rate_limits.failed_logins import EXTENSION_KEY as FAILED_LOGINS
from middleware.rate_limits.failed_logins import FailedLogins, failed_logins
from middleware.rate_limits.headers import add_standard_headers, rate_limit_headers
from middleware.rate_limits.storage import SCHEME, FailoverStorage
from redis_link import REDIS_LINK, RedisLink

EXTENSION_KEY = "rate_limits"

__all__ = [
    "charge_for",
    "client_address",
    "exempt_from_limits",
    "failed_logins",
    "init_rate_limits",
    "limit_auth_routes",
]


def _storage(link: RedisLink | None) -> Storage:
    return FailoverStorage(f"{SCHEME}://", link=link) if link else MemoryStorage()


def init_rate_limits(app: Flask) -> None:
    if REDIS_LINK not in app.extensions:
        raise RuntimeError("init_rate_limits needs init_redis_link first (its storage)")
    link: RedisLink | None = app.extensions[REDIS_LINK]
    limiter = Limiter(
        key_func=client_address,
        application_limits=[
            ApplicationLimit(limit_provider=b.rate, scope=b.scope, exempt_when=b.exempt_when)
            for b in buckets.APPLICATION_LIMITS
        ],
        strategy="fixed-window",
        storage_uri=f"{SCHEME}://" if link else "memory://",
        storage_options={"link": link} if link else {},  # type: ignore[dict-item]
        headers_enabled=False,  # add_standard_headers writes them all
        in_memory_fallback_enabled=True,  # a backstop: FailoverStorage never raises
        swallow_errors=False,
    )
    for blueprint in buckets.auth_blueprints():
        limiter.shared_limit(buckets.auth_rate, scope=AUTH_POLICY, override_defaults=False)(
            blueprint
        )
    for obj in buckets.exemptions():
        limiter.exempt(obj)
    # Registered before init_app so it runs after Flask-Limiter's own after_request.
    app.after_request(add_standard_headers)
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter
    app.extensions[FAILED_LOGINS] = FailedLogins(
        _storage(link), app.config["RATELIMIT_LOGIN_FAILURES"]
    )


def charge_for(app: Flask) -> LimiterCharge:
    """The response cache's fast-path charge for this app's limiter."""
    limiter: Limiter = app.extensions[EXTENSION_KEY]
    return LimiterCharge(
        limiter, environ_functions=buckets.ENVIRON_TWINS, headers=rate_limit_headers
    )
