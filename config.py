"""Every setting of the application, read from the environment in one place.

Contract: ``load_config(environ)`` returns a plain dict of Flask config keys.
Each value has a default that makes ``make run`` work on a fresh clone
(SQLite under ``instance/``, the in-process cache and ``memory://`` limits when
no Redis is configured). Anything invalid raises ``ConfigError`` at start-up,
never at the first request.

Environment variables (all optional; the README lists the same table):

==================== ==================================== ==========================================
name                 default                              meaning
==================== ==================================== ==========================================
APP_ENV              ``development``                      ``production`` makes SECRET_KEY mandatory
                                                          and cookies ``Secure``
DATABASE_URL         ``sqlite:///<repo>/instance/app.db`` SQLAlchemy URL (``postgresql://`` works)
REDIS_URL            unset (embedded mode)                ``redis://``, ``rediss://``
REDIS_HOST/PORT/     unset / 6379 / unset / false         the recipe's split form, used when
PASSWORD/TLS                                              REDIS_URL is unset and REDIS_HOST is set
REDIS_TIMEOUT        ``0.25``                             socket connect/read timeout, seconds
REDIS_BREAKER_       ``3`` / ``5``                        circuit breaker: consecutive failures that
FAILURES/RESET                                            open it (a timeout opens it at once) and
                                                          seconds before one probe is let through
SECRET_KEY           random per process in development    signs nothing secret today; required in
                                                          production
PORT                 ``8000``                             gunicorn port (read by gunicorn.conf.py)
WEB_CONCURRENCY      ``2``                                gunicorn workers (gunicorn.conf.py)
RATELIMIT_API        ``100 per 15 minutes``               limit for every ``/api/`` route, per client
                                                          address (IPv6: per /64)
RATELIMIT_AUTH       ``10 per 15 minutes``                stricter limit for ``/api/v1/auth/*``
RATELIMIT_LOGIN_     ``5 per 15 minutes``                 failed logins per account (normalised
FAILURES                                                  e-mail, known or not), from any address
RATELIMIT_ENABLED    ``true``                             switch the limiter off (benchmarks only)
SESSION_IDLE_TIMEOUT ``1800``                             seconds without a request before a session
                                                          ends (enforced server-side)
SESSION_ABSOLUTE_    ``28800``                            seconds after login when a session ends,
TIMEOUT                                                   however active (enforced server-side)
CACHE_ENABLED        ``true``                             global switch of the response cache
TRUSTED_PROXIES      ``0``                                proxies in front; >0 installs ProxyFix
MAX_CONTENT_LENGTH   ``1048576``                          largest accepted request body, bytes
==================== ==================================== ==========================================
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from limits import parse_many

ROOT = Path(__file__).resolve().parent
DEFAULT_SQLITE = f"sqlite:///{ROOT / 'instance' / 'app.db'}"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing or malformed; raised at start-up."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    # Blank means unset, as for every other setting: ``RATELIMIT_ENABLED=`` in an env
    # file must not silently switch the limiter off.
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    # "inf" and "nan" parse as floats; an infinite Redis timeout is the hang it exists to stop.
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {raw!r}")
    return value


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A Flask-Limiter rate string, checked now so a typo fails at start-up."""
    value = env.get(name, "").strip() or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '100 per 15 minutes', got {value!r}")
    return value


def redis_url_from(env: Mapping[str, str]) -> str | None:
    """REDIS_URL wins; otherwise build one from the recipe's REDIS_HOST form."""
    url = env.get("REDIS_URL", "").strip()
    if url:
        return url
    host = env.get("REDIS_HOST", "").strip()
    if not host:
        return None
    port = _int(env, "REDIS_PORT", 6379, minimum=1)
    if port > 65535:
        raise ConfigError(f"REDIS_PORT must be <= 65535, got {port}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address (RFC 3986 host syntax)
    scheme = "rediss" if _bool(env, "REDIS_TLS", False) else "redis"
    password = env.get("REDIS_PASSWORD", "")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"{scheme}://{auth}{host}:{port}/0"


def database_url_from(env: Mapping[str, str]) -> str:
    url = env.get("DATABASE_URL", "").strip() or DEFAULT_SQLITE
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    app_env = env.get("APP_ENV", "development").strip().lower()
    if app_env not in {"development", "production", "testing"}:
        raise ConfigError(f"APP_ENV must be development, production or testing, got {app_env!r}")
    production = app_env == "production"
    # Stripped: a key of blanks (a templating slip) is no key at all.
    secret = env.get("SECRET_KEY", "").strip()
    if production and len(secret) < 16:
        raise ConfigError("SECRET_KEY (16+ characters) is required when APP_ENV=production")
    idle = _int(env, "SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60)
    absolute = _int(env, "SESSION_ABSOLUTE_TIMEOUT", 8 * 3600, minimum=60)
    if idle > absolute:
        raise ConfigError("SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_TIMEOUT")

    return {
        "APP_ENV": app_env,
        "SECRET_KEY": secret or secrets.token_urlsafe(32),
        "SQLALCHEMY_DATABASE_URI": database_url_from(env),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url_from(env),
        "REDIS_TIMEOUT": _float(env, "REDIS_TIMEOUT", 0.25),
        "REDIS_BREAKER_FAILURES": _int(env, "REDIS_BREAKER_FAILURES", 3, minimum=1),
        "REDIS_BREAKER_RESET": _float(env, "REDIS_BREAKER_RESET", 5.0),
        "RATELIMIT_API": _limit(env, "RATELIMIT_API", "100 per 15 minutes"),
        "RATELIMIT_AUTH": _limit(env, "RATELIMIT_AUTH", "10 per 15 minutes"),
        "RATELIMIT_LOGIN_FAILURES": _limit(env, "RATELIMIT_LOGIN_FAILURES", "5 per 15 minutes"),
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        "CACHE_ENABLED": _bool(env, "CACHE_ENABLED", True),
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1),
        # Sessions. Cookies: HttpOnly and SameSite=Lax always, Secure outside
        # development. Refreshing the cookie on every response would add
        # Set-Cookie and Vary: Cookie to every answer and a Redis write to
        # every read, so the idle timeout is enforced server-side instead
        # (sessions.py). OWASP Session Management: idle 15-30 min for
        # low-risk apps, absolute 4-8 h.
        "SESSION_IDLE_TIMEOUT": idle,
        "SESSION_ABSOLUTE_TIMEOUT": absolute,
        # The cookie lives as long as the session can.
        "PERMANENT_SESSION_LIFETIME": timedelta(seconds=absolute),
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Argon2id parameters (OWASP: m=19 MiB, t=2, p=1); tests pass cheap ones.
        "PASSWORD_HASH_PARAMS": {"time_cost": 2, "memory_cost": 19456, "parallelism": 1},
        # flask-smorest / OpenAPI
        "API_TITLE": "Posts API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }
