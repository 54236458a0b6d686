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
REDIS_URL            unset (embedded mode)                ``redis://``, ``rediss://``; a Cluster as
                                                          ``redis+cluster://h1:p1,h2:p2``; a
                                                          Sentinel-managed master as
                                                          ``redis+sentinel://s1:p1,s2:p2/<master>``
REDIS_CLUSTER_NODES  unset                                ``host:port,...``: Redis Cluster seed
                                                          nodes (instead of REDIS_URL)
REDIS_SENTINELS /    unset                                ``host:port,...`` of the Sentinels and the
REDIS_SENTINEL_                                           name of the master they watch (both, and
MASTER                                                    instead of REDIS_URL)
REDIS_HOST/PORT/     unset / 6379 / unset / false         the recipe's split form, used when
PASSWORD/TLS                                              REDIS_URL is unset and REDIS_HOST is set;
                                                          PASSWORD and TLS also apply to
                                                          REDIS_CLUSTER_NODES / REDIS_SENTINELS
REDIS_TIMEOUT        ``0.25``                             socket connect/read timeout, seconds
REDIS_MAX_           ``32``                               connections per process (raise it for
CONNECTIONS                                               gthread workers with many threads)
REDIS_BREAKER_       ``3``                                consecutive errors that open the circuit
FAILURES                                                  breaker (a timeout or a refused connection
                                                          opens it at once)
REDIS_PROBE_         ``0.25``                             seconds between the PINGs a worker sends
INTERVAL                                                  while its circuit is open (off the request
                                                          path); the first answer closes it
SECRET_KEY           random per process in development    signs nothing secret today; required in
                                                          production
PORT                 ``8000``                             gunicorn port (read by gunicorn.conf.py)
WEB_CONCURRENCY      ``2``                                gunicorn workers (gunicorn.conf.py)
RATELIMIT_API        ``100 per 15 minutes``               limit for every ``/api/`` route, per
                                                          client address (IPv6: per /64)
RATELIMIT_AUTH       ``10 per 15 minutes``                stricter limit for ``/api/v1/auth/*``
RATELIMIT_LOGIN_     ``5 per 15 minutes``                 failed logins per account (normalised
FAILURES                                                  e-mail, known or not), from any address
RATELIMIT_ENABLED    ``true``                             switch the limiter off (benchmarks only)
SESSION_BACKEND      ``cached`` with REDIS_URL, else      where server-side sessions live:
                     ``sql``                              ``cached`` (SQL, read through Redis),
                                                          ``sql`` or ``redis`` (Redis only)
SESSION_IDLE_TIMEOUT ``1800``                             seconds without a request before a session
                                                          ends (enforced server-side)
SESSION_ABSOLUTE_    ``28800``                            seconds after login when a session ends,
TIMEOUT                                                   however active (enforced server-side)
CACHE_ENABLED        ``true``                             global switch of the response cache
RESPONSE_CACHE_      ``true``                             answer cache hits of public routes below
FAST_PATH                                                 Flask's dispatch (D28); false: every
                                                          request goes through Flask's hooks
TRUSTED_PROXIES      ``0``                                proxies in front; >0 installs ProxyFix
TRUSTED_HOSTS        unset (any host)                     comma-separated host names the app answers
                                                          to (``.example.com`` adds subdomains);
                                                          any other ``Host`` gets 400
MAX_CONTENT_LENGTH   ``1048576``                          largest accepted request body, bytes
METRICS_TOKEN        unset (admin session only)           bearer token that may read ``/metrics``
                                                          (16+ characters); admin sessions may too
ACCESS_LOG           ``buffered``                         the JSON access log on stderr:
                                                          ``buffered`` (written at 64 KiB, when its
                                                          oldest line is 1 s old, and at exit),
                                                          ``line`` (a write per request) or ``off``
SERVER_TIMING        ``false``                            add ``Server-Timing: app;dur=<ms>`` (time
                                                          to ``start_response`` in the outermost
                                                          WSGI layer) to every response; off by
                                                          default: timings are a small leak
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

from flask_response_cache import RedisTarget, RedisUrlError, parse_redis_url
from limits import parse_many

from redis_link import topology

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
        raise ConfigError(
            f"{name} must be a rate such as '100 per 15 minutes', got {value!r}"
        ) from None
    return value


def _token(env: Mapping[str, str], name: str, minimum_length: int = 16) -> str | None:
    """A shared secret: unset or blank means none; a short one is refused (guessable)."""
    value = env.get(name, "").strip()
    if not value:
        return None
    if len(value) < minimum_length:
        raise ConfigError(f"{name} must be at least {minimum_length} characters")
    return value


def redis_url_from(env: Mapping[str, str]) -> str | None:
    """One URL for every Redis topology, validated (``redis_link.topology``)."""
    try:
        return topology.redis_url_from(env)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def redis_target(url: str) -> RedisTarget:
    """Parse a Redis URL of any topology; ``ConfigError`` when malformed."""
    try:
        return parse_redis_url(url)
    except RedisUrlError as exc:
        raise ConfigError(str(exc)) from None


def _trusted_hosts(env: Mapping[str, str]) -> list[str] | None:
    """Flask 3.1's TRUSTED_HOSTS: None (any host) unless the variable names some."""
    raw = env.get("TRUSTED_HOSTS", "")
    hosts = [host.strip().lower() for host in raw.split(",") if host.strip()]
    for host in hosts:
        if any(c in host for c in "/@ ") or not host.strip("."):
            raise ConfigError(f"TRUSTED_HOSTS takes host names (no scheme or port), got {host!r}")
    return hosts or None


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
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": secret or secrets.token_urlsafe(32),
        **_database(env),
        **_redis(env),
        **_limits(env),
        **_sessions(env, production),
        **_http(env),
    }


def _database(env: Mapping[str, str]) -> dict[str, Any]:
    url = database_url_from(env)
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        # A ping per checkout finds connections a restarted server dropped; a SQLite file
        # has no server, so there it would only cost a query per request.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not url.startswith("sqlite")},
        # Argon2id parameters (OWASP: m=19 MiB, t=2, p=1); tests pass cheap ones.
        "PASSWORD_HASH_PARAMS": {"time_cost": 2, "memory_cost": 19456, "parallelism": 1},
    }


def _redis(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "REDIS_URL": redis_url_from(env),
        "REDIS_TIMEOUT": _float(env, "REDIS_TIMEOUT", 0.25),
        # Connections per process; waiting for a free one is bounded by REDIS_TIMEOUT too.
        "REDIS_MAX_CONNECTIONS": _int(env, "REDIS_MAX_CONNECTIONS", 32, minimum=1),
        "REDIS_BREAKER_FAILURES": _int(env, "REDIS_BREAKER_FAILURES", 3, minimum=1),
        "REDIS_PROBE_INTERVAL": _float(env, "REDIS_PROBE_INTERVAL", 0.25),
        "CACHE_ENABLED": _bool(env, "CACHE_ENABLED", True),
        "RESPONSE_CACHE_FAST_PATH": _bool(env, "RESPONSE_CACHE_FAST_PATH", True),
    }


def _limits(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "RATELIMIT_API": _limit(env, "RATELIMIT_API", "100 per 15 minutes"),
        "RATELIMIT_AUTH": _limit(env, "RATELIMIT_AUTH", "10 per 15 minutes"),
        "RATELIMIT_LOGIN_FAILURES": _limit(env, "RATELIMIT_LOGIN_FAILURES", "5 per 15 minutes"),
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
    }


def _sessions(env: Mapping[str, str], production: bool) -> dict[str, Any]:
    """Cookies: HttpOnly and SameSite=Lax always, Secure outside development. Refreshing
    the cookie on every response would add Set-Cookie and Vary: Cookie to every answer
    and a store write to every read, so the idle timeout is enforced server-side instead
    (middleware/sessions). OWASP Session Management: idle 15-30 min for low-risk apps,
    absolute 4-8 h."""
    backend = env.get("SESSION_BACKEND", "").strip().lower() or None
    if backend not in {None, "cached", "redis", "sql"}:
        raise ConfigError(f"SESSION_BACKEND must be cached, redis or sql, got {backend!r}")
    idle = _int(env, "SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60)
    absolute = _int(env, "SESSION_ABSOLUTE_TIMEOUT", 8 * 3600, minimum=60)
    if idle > absolute:
        raise ConfigError("SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_TIMEOUT")
    return {
        "SESSION_BACKEND": backend,  # None: cached (SQL + Redis) when REDIS_URL is set
        "SESSION_IDLE_TIMEOUT": idle,
        "SESSION_ABSOLUTE_TIMEOUT": absolute,
        # The cookie lives as long as the session can.
        "PERMANENT_SESSION_LIFETIME": timedelta(seconds=absolute),
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
    }


ACCESS_LOG_MODES = ("buffered", "line", "off")


def _access_log(env: Mapping[str, str]) -> str:
    mode = env.get("ACCESS_LOG", "").strip().lower() or "buffered"
    if mode not in ACCESS_LOG_MODES:
        raise ConfigError(f"ACCESS_LOG must be buffered, line or off, got {mode!r}")
    return mode


def _http(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        # Flask 3.1 answers 400 to a Host outside this list (None: any host).
        "TRUSTED_HOSTS": _trusted_hosts(env),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1),
        # /metrics: Prometheus sends "Authorization: Bearer <METRICS_TOKEN>".
        "METRICS_TOKEN": _token(env, "METRICS_TOKEN"),
        "ACCESS_LOG": _access_log(env),
        # W3C Server-Timing on every response (observability/middleware.py); opt-in.
        "SERVER_TIMING": _bool(env, "SERVER_TIMING", False),
        # flask-smorest / OpenAPI
        "API_TITLE": "Posts API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "JSON_SORT_KEYS": False,
    }
