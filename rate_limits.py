"""Flask-Limiter wiring: one limit for all of ``/api/``, a stricter one for auth.

Contract:
- ``RATELIMIT_API`` applies per client address to every ``/api/`` route;
  ``RATELIMIT_AUTH`` applies on top of it to ``/api/v1/auth/*``; health is exempt.
- With Redis configured the counters live in Redis under the ``rl`` prefix,
  built with the same short timeouts as every other client; on a storage error
  the limiter falls back to per-process memory (limits stay enforced) and
  returns to Redis when it recovers. Embedded mode uses ``memory://``.
- 429 answers use the shared JSON error shape, with ``Retry-After``.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _api_limit() -> str:
    return str(current_app.config["RATELIMIT_API"])


def _outside_api() -> bool:
    return not request.path.startswith("/api/")


# One bucket per client for the whole API (an application limit is shared
# across routes), not one per route: 100 requests means 100 API requests.
limiter = Limiter(
    key_func=get_remote_address,
    application_limits=[_api_limit],
    application_limits_exempt_when=_outside_api,
)


def _auth_limit() -> str:
    return str(current_app.config["RATELIMIT_AUTH"])


def configure_limiter(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    timeout = app.config["REDIS_TIMEOUT"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", url or "memory://")
    if url:
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {"socket_connect_timeout": timeout, "socket_timeout": timeout},
        )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "rl")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", False)
    limiter.init_app(app)


def apply_limits(auth_blueprint: object, exempt: list[object]) -> None:
    """Attach the auth limit and the exemptions (once, when blueprints are built)."""
    limiter.shared_limit(_auth_limit, scope="auth", override_defaults=False)(auth_blueprint)  # type: ignore[call-overload]
    for bp in exempt:
        limiter.exempt(bp)  # type: ignore[call-overload]
