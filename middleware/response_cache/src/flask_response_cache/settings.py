"""``RESPONSE_CACHE_*`` settings: named constants, defaults, start-up validation.

======================================  ===============  ========================================
key                                     default          meaning
======================================  ===============  ========================================
``RESPONSE_CACHE_ENABLED``              ``True``         False: every cached view runs as if
                                                         undeclared (no storage is used)
``RESPONSE_CACHE_REDIS_URL``            ``None``         Redis for the cache: ``redis://``,
                                                         ``rediss://``, ``unix://``,
                                                         ``redis+sentinel://s1:p1,s2:p2/master``
                                                         or ``redis+cluster://h1:p1,h2:p2``;
                                                         setting it selects Redis storage
``RESPONSE_CACHE_STORAGE``              ``None``         ``memory``, ``null`` or ``redis``;
                                                         None: ``redis`` when a URL is set,
                                                         else ``memory`` (one cache per
                                                         process)
``RESPONSE_CACHE_REDIS_TIMEOUT``        ``0.25``         connect and read timeout, seconds
                                                         (no retries)
``RESPONSE_CACHE_REDIS_MAX_CONNECTIONS`` ``32``          connections per process
``RESPONSE_CACHE_BREAKER_FAILURES``     ``3``            consecutive errors that open the
                                                         circuit (a timeout opens it at once)
``RESPONSE_CACHE_BREAKER_PROBE_INTERVAL`` ``0.25``     seconds between the background probes
                                                         (a 1 s SET) while the circuit is open
``RESPONSE_CACHE_NAMESPACE``            ``"rc"``         key namespace (``{rc}:...``)
``RESPONSE_CACHE_DEFAULT_TTL``          ``60``           seconds, for declarations without one
``RESPONSE_CACHE_MAX_BODY_BYTES``       ``1048576``      larger bodies are never stored
``RESPONSE_CACHE_COMPRESS_MIN_BYTES``   ``1024``         bodies this large are stored gzip'd
``RESPONSE_CACHE_CREDENTIAL_COOKIES``   see below        a request carrying any of these
                                                         cookies never reads nor fills a
                                                         public entry
``RESPONSE_CACHE_USER_ID_LOADER``       ``None``         callable -> current user id or None,
                                                         for ``scope="user"`` routes (Flask-Login
                                                         is used when it is installed and none
                                                         is given)
``RESPONSE_CACHE_OVERRIDES``            ``{}``           ``{endpoint: {ttl, stale_while_
                                                         revalidate, stale_if_error, enabled}}``
``RESPONSE_CACHE_TOGGLE_REFRESH``       ``0.5``          seconds between checks of the runtime
                                                         toggles' version (per process)
``RESPONSE_CACHE_IDENTIFIER``           ``"response-     the cache's name in ``Cache-Status``
                                        cache"``         (an RFC 8941 token)
``RESPONSE_CACHE_FAST_PATH``            ``True``         answer hits of public routes in a WSGI
                                                         layer below Flask (``fast_path.py``)
======================================  ===============  ========================================

``RESPONSE_CACHE_CREDENTIAL_COOKIES`` defaults to the cookies the common Flask
extensions authenticate with: the app's session cookie (``SESSION_COOKIE_NAME``),
Flask-Login's remember cookie (``REMEMBER_COOKIE_NAME``, ``remember_token``) and
flask-jwt-extended's access and refresh cookies (``JWT_ACCESS_COOKIE_NAME``,
``JWT_REFRESH_COOKIE_NAME``). Give a list to replace it.

Anything invalid raises ``ResponseCacheConfigError`` from ``init_app``, naming the key,
never at the first request: an unknown ``RESPONSE_CACHE_*`` key (a typo), a wrong type,
``RESPONSE_CACHE_STORAGE`` contradicting ``RESPONSE_CACHE_REDIS_URL``, and
``CACHE_ENABLED`` set without ``RESPONSE_CACHE_ENABLED`` (this extension does not read
``CACHE_*`` keys; Flask-Caching does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .layout import Layout
from .redis_url import RedisUrlError, parse_redis_url

PREFIX = "RESPONSE_CACHE_"
ENABLED = "RESPONSE_CACHE_ENABLED"
REDIS_URL = "RESPONSE_CACHE_REDIS_URL"
STORAGE = "RESPONSE_CACHE_STORAGE"
REDIS_TIMEOUT = "RESPONSE_CACHE_REDIS_TIMEOUT"
REDIS_MAX_CONNECTIONS = "RESPONSE_CACHE_REDIS_MAX_CONNECTIONS"
BREAKER_FAILURES = "RESPONSE_CACHE_BREAKER_FAILURES"
BREAKER_PROBE_INTERVAL = "RESPONSE_CACHE_BREAKER_PROBE_INTERVAL"
NAMESPACE = "RESPONSE_CACHE_NAMESPACE"
DEFAULT_TTL = "RESPONSE_CACHE_DEFAULT_TTL"
MAX_BODY_BYTES = "RESPONSE_CACHE_MAX_BODY_BYTES"
COMPRESS_MIN_BYTES = "RESPONSE_CACHE_COMPRESS_MIN_BYTES"
CREDENTIAL_COOKIES = "RESPONSE_CACHE_CREDENTIAL_COOKIES"
USER_ID_LOADER = "RESPONSE_CACHE_USER_ID_LOADER"
OVERRIDES = "RESPONSE_CACHE_OVERRIDES"
TOGGLE_REFRESH = "RESPONSE_CACHE_TOGGLE_REFRESH"
IDENTIFIER = "RESPONSE_CACHE_IDENTIFIER"
FAST_PATH = "RESPONSE_CACHE_FAST_PATH"

DEFAULTS: dict[str, Any] = {
    ENABLED: True,
    REDIS_URL: None,
    STORAGE: None,
    REDIS_TIMEOUT: 0.25,
    REDIS_MAX_CONNECTIONS: 32,
    BREAKER_FAILURES: 3,
    BREAKER_PROBE_INTERVAL: 0.25,
    NAMESPACE: "rc",
    DEFAULT_TTL: 60,
    MAX_BODY_BYTES: 1024 * 1024,
    COMPRESS_MIN_BYTES: 1024,
    CREDENTIAL_COOKIES: None,
    USER_ID_LOADER: None,
    OVERRIDES: {},
    TOGGLE_REFRESH: 0.5,
    IDENTIFIER: "response-cache",
    FAST_PATH: True,
}

STORAGE_KINDS = ("memory", "null", "redis")
# (config key naming the cookie, its default): the extensions whose cookies authenticate.
CREDENTIAL_COOKIE_SOURCES = (
    ("SESSION_COOKIE_NAME", "session"),  # Flask (and Flask-Session)
    ("REMEMBER_COOKIE_NAME", "remember_token"),  # Flask-Login
    ("JWT_ACCESS_COOKIE_NAME", "access_token_cookie"),  # flask-jwt-extended
    ("JWT_REFRESH_COOKIE_NAME", "refresh_token_cookie"),  # flask-jwt-extended
)
_TOKEN = re.compile(r"^[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*$")
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_OVERRIDE_KEYS = {"ttl", "stale_while_revalidate", "stale_if_error", "enabled"}


class ResponseCacheConfigError(ValueError):
    """A setting or a declaration is invalid (raised at start-up, naming it)."""


@dataclass(frozen=True, slots=True)
class Settings:
    enabled: bool
    storage: str
    redis_url: str | None
    redis_timeout: float
    redis_max_connections: int
    breaker_failures: int
    breaker_probe_interval: float
    namespace: str
    default_ttl: float
    max_body_bytes: int
    compress_min_bytes: int
    credential_cookies: tuple[str, ...]
    user_id_loader: Callable[[], object | None] | None
    overrides: Mapping[str, Mapping[str, Any]]
    toggle_refresh: float
    identifier: str
    fast_path: bool


def _number(config: Mapping[str, Any], key: str, minimum: float, integer: bool = False) -> Any:
    value = config[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value >= minimum:
        kind = "an integer" if integer else "a number"
        raise ResponseCacheConfigError(f"{key} must be {kind} >= {minimum}, got {value!r}")
    return value


def _bool(config: Mapping[str, Any], key: str) -> bool:
    value = config[key]
    if not isinstance(value, bool):
        raise ResponseCacheConfigError(f"{key} must be True or False, got {value!r}")
    return value


def _overrides(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise ResponseCacheConfigError(f"{OVERRIDES} must be a mapping of endpoint -> settings")
    checked: dict[str, dict[str, Any]] = {}
    for endpoint, settings in value.items():
        if not isinstance(settings, Mapping) or not set(settings) <= _OVERRIDE_KEYS:
            raise ResponseCacheConfigError(
                f"{OVERRIDES}[{endpoint!r}] must be a mapping with keys from "
                f"{sorted(_OVERRIDE_KEYS)}"
            )
        for key in ("ttl", "stale_while_revalidate", "stale_if_error"):
            if key in settings:
                _number(settings, key, 1 if key == "ttl" else 0)
        if "enabled" in settings and not isinstance(settings["enabled"], bool):
            raise ResponseCacheConfigError(f"{OVERRIDES}[{endpoint!r}]['enabled'] must be a bool")
        checked[str(endpoint)] = dict(settings)
    return checked


def _credential_cookies(config: Mapping[str, Any]) -> tuple[str, ...]:
    given = config[CREDENTIAL_COOKIES]
    if given is None:
        names = [str(config.get(key) or default) for key, default in CREDENTIAL_COOKIE_SOURCES]
    elif isinstance(given, str) or not all(isinstance(name, str) for name in given):
        raise ResponseCacheConfigError(f"{CREDENTIAL_COOKIES} must be a list of cookie names")
    else:
        names = list(given)
    for name in names:
        if not _COOKIE_NAME.match(name):
            raise ResponseCacheConfigError(f"{CREDENTIAL_COOKIES}: {name!r} is not a cookie name")
    return tuple(dict.fromkeys(names))


def _storage(config: Mapping[str, Any]) -> tuple[str, str | None]:
    url, storage = config[REDIS_URL], config[STORAGE]
    if url is not None:
        if not isinstance(url, str) or not url.strip():
            raise ResponseCacheConfigError(f"{REDIS_URL} must be a Redis URL, got {url!r}")
        try:
            parse_redis_url(url)
        except RedisUrlError as exc:
            raise ResponseCacheConfigError(f"{REDIS_URL}: {exc}") from None
    if storage is None:
        return ("redis" if url else "memory"), url
    if storage not in STORAGE_KINDS:
        raise ResponseCacheConfigError(f"{STORAGE} must be one of {STORAGE_KINDS}, got {storage!r}")
    if storage == "redis" and not url:
        raise ResponseCacheConfigError(f"{STORAGE}='redis' needs {REDIS_URL}")
    if storage != "redis" and url:
        raise ResponseCacheConfigError(
            f"{STORAGE}={storage!r} contradicts {REDIS_URL}: drop one of them"
        )
    return storage, url


def _refuse_unknown_keys(config: Mapping[str, Any]) -> None:
    unknown = sorted(key for key in config if key.startswith(PREFIX) and key not in DEFAULTS)
    if unknown:
        raise ResponseCacheConfigError(
            f"unknown setting {', '.join(unknown)}; known: {', '.join(sorted(DEFAULTS))}"
        )
    if "CACHE_ENABLED" in config and ENABLED not in config:
        raise ResponseCacheConfigError(
            f"CACHE_ENABLED is not read by flask-response-cache: set {ENABLED}"
        )


def load_settings(config: dict[str, Any]) -> Settings:
    """Validate every key in ``config``, default the missing ones (in place), and return
    the settings."""
    _refuse_unknown_keys(config)
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    loader = config[USER_ID_LOADER]
    if loader is not None and not callable(loader):
        raise ResponseCacheConfigError(f"{USER_ID_LOADER} must be a callable or None")
    if not isinstance(config[IDENTIFIER], str) or not _TOKEN.match(config[IDENTIFIER]):
        raise ResponseCacheConfigError(f"{IDENTIFIER} must be an RFC 8941 token")
    try:
        Layout(str(config[NAMESPACE]))
    except ValueError as exc:
        raise ResponseCacheConfigError(f"{NAMESPACE}: {exc}") from None
    refresh = _number(config, TOGGLE_REFRESH, 0.01)
    if refresh > 1.0:
        raise ResponseCacheConfigError(f"{TOGGLE_REFRESH} must be <= 1 s (toggles honour 1 s)")
    storage, url = _storage(config)
    return Settings(
        enabled=_bool(config, ENABLED),
        storage=storage,
        redis_url=url,
        redis_timeout=float(_number(config, REDIS_TIMEOUT, 0.001)),
        redis_max_connections=_number(config, REDIS_MAX_CONNECTIONS, 1, integer=True),
        breaker_failures=_number(config, BREAKER_FAILURES, 1, integer=True),
        breaker_probe_interval=float(_number(config, BREAKER_PROBE_INTERVAL, 0.01)),
        namespace=str(config[NAMESPACE]),
        default_ttl=_number(config, DEFAULT_TTL, 1),
        max_body_bytes=_number(config, MAX_BODY_BYTES, 0, integer=True),
        compress_min_bytes=_number(config, COMPRESS_MIN_BYTES, 1, integer=True),
        credential_cookies=_credential_cookies(config),
        user_id_loader=loader,
        overrides=_overrides(config[OVERRIDES]),
        toggle_refresh=float(refresh),
        identifier=config[IDENTIFIER],
        fast_path=_bool(config, FAST_PATH),
    )
