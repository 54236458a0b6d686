"""``RESPONSE_CACHE_*`` settings: named constants, defaults, start-up validation.

=====================================  ==============  =========================================
key                                    default         meaning
=====================================  ==============  =========================================
``RESPONSE_CACHE_ENABLED``             ``True``        False installs no hooks at all
``RESPONSE_CACHE_NAMESPACE``           ``"rc"``        key namespace (``{rc}:...``) of a storage
                                                       the extension builds itself
``RESPONSE_CACHE_DEFAULT_TTL``         ``60``          seconds, for declarations without ``ttl``
``RESPONSE_CACHE_MAX_BODY_BYTES``      ``1048576``     larger bodies are never stored
``RESPONSE_CACHE_COMPRESS_MIN_BYTES``  ``1024``        bodies this large are stored gzip'd
``RESPONSE_CACHE_SESSION_COOKIE_NAME`` app's           a request carrying it bypasses public
                                       ``SESSION_      entries
                                       COOKIE_NAME``
``RESPONSE_CACHE_USER_ID_LOADER``      ``None``        callable -> current user id or None;
                                                       needed by ``scope="user"`` routes
``RESPONSE_CACHE_OVERRIDES``           ``{}``          ``{endpoint: {ttl, stale_while_revalidate,
                                                       stale_if_error, enabled}}``
``RESPONSE_CACHE_TOGGLE_REFRESH``      ``0.5``         seconds between checks of the runtime
                                                       toggles' version (per process)
``RESPONSE_CACHE_STORAGE``             ``"memory"``    ``memory``, ``null`` or ``redis``, used
                                                       only when no core is handed in
``RESPONSE_CACHE_REDIS_URL``           ``None``        for ``STORAGE="redis"``
``RESPONSE_CACHE_IDENTIFIER``          ``"response-    the cache's name in ``Cache-Status``
                                       cache"``        (an RFC 8941 token)
``RESPONSE_CACHE_FAST_PATH``           ``True``        answer hits of public routes in a WSGI
                                                       layer below Flask (``fast_path.py``);
                                                       False: every request goes through Flask
=====================================  ==============  =========================================

Anything invalid raises ``ResponseCacheConfigError`` from ``init_app``, never
at the first request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from middleware.response_cache.layout import Layout

ENABLED = "RESPONSE_CACHE_ENABLED"
NAMESPACE = "RESPONSE_CACHE_NAMESPACE"
DEFAULT_TTL = "RESPONSE_CACHE_DEFAULT_TTL"
MAX_BODY_BYTES = "RESPONSE_CACHE_MAX_BODY_BYTES"
COMPRESS_MIN_BYTES = "RESPONSE_CACHE_COMPRESS_MIN_BYTES"
SESSION_COOKIE_NAME = "RESPONSE_CACHE_SESSION_COOKIE_NAME"
USER_ID_LOADER = "RESPONSE_CACHE_USER_ID_LOADER"
OVERRIDES = "RESPONSE_CACHE_OVERRIDES"
TOGGLE_REFRESH = "RESPONSE_CACHE_TOGGLE_REFRESH"
STORAGE = "RESPONSE_CACHE_STORAGE"
REDIS_URL = "RESPONSE_CACHE_REDIS_URL"
IDENTIFIER = "RESPONSE_CACHE_IDENTIFIER"
FAST_PATH = "RESPONSE_CACHE_FAST_PATH"

DEFAULTS: dict[str, Any] = {
    ENABLED: True,
    NAMESPACE: "rc",
    DEFAULT_TTL: 60,
    MAX_BODY_BYTES: 1024 * 1024,
    COMPRESS_MIN_BYTES: 1024,
    SESSION_COOKIE_NAME: None,
    USER_ID_LOADER: None,
    OVERRIDES: {},
    TOGGLE_REFRESH: 0.5,
    STORAGE: "memory",
    REDIS_URL: None,
    IDENTIFIER: "response-cache",
    FAST_PATH: True,
}

STORAGE_KINDS = ("memory", "null", "redis")
_TOKEN = re.compile(r"^[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*$")
_OVERRIDE_KEYS = {"ttl", "stale_while_revalidate", "stale_if_error", "enabled"}


class ResponseCacheConfigError(ValueError):
    """A ``RESPONSE_CACHE_*`` setting is invalid (raised at start-up)."""


@dataclass(frozen=True, slots=True)
class Settings:
    enabled: bool
    namespace: str
    default_ttl: float
    max_body_bytes: int
    compress_min_bytes: int
    session_cookie_name: str
    user_id_loader: Callable[[], object | None] | None
    overrides: Mapping[str, Mapping[str, Any]]
    toggle_refresh: float
    storage: str
    redis_url: str | None
    identifier: str
    fast_path: bool


def _number(config: Mapping[str, Any], key: str, minimum: float, integer: bool = False) -> Any:
    value = config[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ResponseCacheConfigError(f"{key} must be {kind} >= {minimum}, got {value!r}")
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


def load_settings(config: dict[str, Any]) -> Settings:
    """Default every key in ``config`` (in place), validate, and return the settings."""
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    if config[SESSION_COOKIE_NAME] is None:
        config[SESSION_COOKIE_NAME] = config.get("SESSION_COOKIE_NAME", "session")
    loader = config[USER_ID_LOADER]
    if loader is not None and not callable(loader):
        raise ResponseCacheConfigError(f"{USER_ID_LOADER} must be a callable or None")
    if config[STORAGE] not in STORAGE_KINDS:
        raise ResponseCacheConfigError(f"{STORAGE} must be one of {STORAGE_KINDS}")
    if config[STORAGE] == "redis" and not config[REDIS_URL]:
        raise ResponseCacheConfigError(f"{STORAGE}='redis' needs {REDIS_URL}")
    if not isinstance(config[IDENTIFIER], str) or not _TOKEN.match(config[IDENTIFIER]):
        raise ResponseCacheConfigError(f"{IDENTIFIER} must be an RFC 8941 token")
    try:
        Layout(str(config[NAMESPACE]))
    except ValueError as exc:
        raise ResponseCacheConfigError(f"{NAMESPACE}: {exc}") from None
    if not isinstance(config[FAST_PATH], bool):
        raise ResponseCacheConfigError(f"{FAST_PATH} must be a bool, got {config[FAST_PATH]!r}")
    refresh = _number(config, TOGGLE_REFRESH, 0.01)
    if refresh > 1.0:
        raise ResponseCacheConfigError(f"{TOGGLE_REFRESH} must be <= 1 s (toggles honour 1 s)")
    return Settings(
        enabled=bool(config[ENABLED]),
        namespace=str(config[NAMESPACE]),
        default_ttl=_number(config, DEFAULT_TTL, 1),
        max_body_bytes=_number(config, MAX_BODY_BYTES, 0, integer=True),
        compress_min_bytes=_number(config, COMPRESS_MIN_BYTES, 1, integer=True),
        session_cookie_name=str(config[SESSION_COOKIE_NAME]),
        user_id_loader=loader,
        overrides=_overrides(config[OVERRIDES]),
        toggle_refresh=float(refresh),
        storage=str(config[STORAGE]),
        redis_url=config[REDIS_URL],
        identifier=config[IDENTIFIER],
        fast_path=config[FAST_PATH],
    )
