"""flask-response-cache: a standards-grade HTTP response cache for Flask, safe by default.

Public surface (everything else in the package is internal)::

    from flask_response_cache import ResponseCache, cache_response, no_cache

- ``ResponseCache``: the extension and its API (``invalidate_tags``, ``purge``,
  ``set_route``, ``routes``, ``stats``, the value cache ``get_or_set`` /
  ``invalidate_keys``); settings in ``settings.py``.
- ``cache_response`` / ``no_cache`` / ``cache_blueprint_defaults``: per-route
  declarations. Undeclared routes are never cached.
- ``fast_hit_safe`` / ``declare_fast_hit_safe`` / ``declare_fast_hit_safe_decorator``:
  what a hit answered below Flask may skip (``safety.py``).
- ``add_response_tags`` / ``filling_response``: for code inside a view that fills an
  entry (tags its data revealed; whether this request holds the fill lock).
- Storage and resilience: ``MemoryStorage``, ``NullStorage``, ``RedisStorage``
  (``[redis]`` extra, imported on first use), ``Storage``, ``Layout``,
  ``CircuitBreaker``, ``connect_redis``, ``parse_redis_url``; the journal protocol
  ``Journal`` with ``MemoryJournal``; toggles ``RouteToggle`` / ``ToggleStore``.
- The rate-limit hook of the fast path: ``Charge``, ``ChargeTicket``, ``FREE``;
  Flask-Limiter's is ``flask_response_cache.contrib.flask_limiter.LimiterCharge``.
- Optional adapters: ``flask_response_cache.contrib.sqlalchemy`` (``SqlJournal``,
  ``SqlToggleStore``; ``[sqlalchemy]`` extra).
- Errors: ``ResponseCacheConfigError``, ``StorageUnavailable``, ``JournalUnavailable``,
  ``RedisUrlError``, ``UnknownRoute``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .breaker import CircuitBreaker
from .charge import FREE, Charge, ChargeTicket
from .core import CacheCore
from .declarations import cache_blueprint_defaults, cache_response, no_cache
from .extension import ResponseCache
from .flask_hooks import add_tags as add_response_tags
from .flask_hooks import filling as filling_response
from .journal import Journal, JournalEntry, JournalUnavailable, MemoryJournal
from .layout import Layout
from .ops import RouteInfo, UnknownRoute
from .record import Freshness
from .redis_url import RedisTarget, RedisUrlError, parse_redis_url
from .safety import declare_fast_hit_safe, declare_fast_hit_safe_decorator, fast_hit_safe
from .settings import ResponseCacheConfigError
from .storage import MemoryStorage, NullStorage, Storage, StorageUnavailable
from .toggles import RouteToggle, ToggleStore

if TYPE_CHECKING:
    from .redis_client import connect as connect_redis
    from .storage.redis import RedisStorage

__version__ = "0.1.0"

__all__ = [
    "FREE",
    "CacheCore",
    "Charge",
    "ChargeTicket",
    "CircuitBreaker",
    "Freshness",
    "Journal",
    "JournalEntry",
    "JournalUnavailable",
    "Layout",
    "MemoryJournal",
    "MemoryStorage",
    "NullStorage",
    "RedisStorage",
    "RedisTarget",
    "RedisUrlError",
    "ResponseCache",
    "ResponseCacheConfigError",
    "RouteInfo",
    "RouteToggle",
    "Storage",
    "StorageUnavailable",
    "ToggleStore",
    "UnknownRoute",
    "__version__",
    "add_response_tags",
    "cache_blueprint_defaults",
    "cache_response",
    "connect_redis",
    "declare_fast_hit_safe",
    "declare_fast_hit_safe_decorator",
    "fast_hit_safe",
    "filling_response",
    "no_cache",
    "parse_redis_url",
]


def __getattr__(name: str) -> Any:
    # redis-py is an optional dependency: these import it on first use only.
    if name == "RedisStorage":
        from .storage.redis import RedisStorage

        return RedisStorage
    if name == "connect_redis":
        from .redis_client import connect

        return connect
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
