"""A standards-grade HTTP response cache for Flask, safe by default.

Public surface::

    from middleware.response_cache import ResponseCache, cache_response, no_cache

- ``ResponseCache``: the extension (``extension.py``); settings in
  ``settings.py``; request hooks in ``flask_hooks.py``; hits of public routes
  answered below Flask by the WSGI fast path (``fast_path.py``).
- ``cache_response`` / ``no_cache`` / ``cache_blueprint_defaults``: per-route
  declarations (``routes.py``). Undeclared routes are never cached.
- The caching contract: ``policy.py``. Names: ``keys.py``. Stored form:
  ``entry.py``. Headers: ``headers.py``. Runtime toggles: ``toggles.py``.
  Counters: ``stats.py``. Operator actions and the ``flask cache`` CLI:
  ``ops.py``, ``cli.py``.
- Shared with the service-level cache: ``CacheCore`` (trust, single-flight,
  stale serving, tags), ``Freshness``, ``Layout`` and the storages
  (``MemoryStorage``, ``NullStorage``, ``RedisStorage``); ``filling_response()``
  tells it that the current request computes a response under the fill lock, and
  ``add_response_tags()`` adds tags the data revealed to that response's entry.

The package imports only Flask, Werkzeug, redis-py, the standard library and
itself: any Flask application can use it.
"""

from __future__ import annotations

from middleware.response_cache.core import CacheCore
from middleware.response_cache.extension import ResponseCache
from middleware.response_cache.flask_hooks import add_tags as add_response_tags
from middleware.response_cache.flask_hooks import filling as filling_response
from middleware.response_cache.layout import Layout
from middleware.response_cache.record import Freshness
from middleware.response_cache.redis_storage import RedisStorage
from middleware.response_cache.routes import cache_blueprint_defaults, cache_response, no_cache
from middleware.response_cache.settings import ResponseCacheConfigError
from middleware.response_cache.state import CacheState, state_for
from middleware.response_cache.storage import (
    MemoryStorage,
    NullStorage,
    Storage,
    StorageUnavailable,
)
from middleware.response_cache.toggles import RouteToggle, StorageToggleStore, ToggleStore

__all__ = [
    "CacheCore",
    "CacheState",
    "Freshness",
    "Layout",
    "MemoryStorage",
    "NullStorage",
    "RedisStorage",
    "ResponseCache",
    "ResponseCacheConfigError",
    "RouteToggle",
    "Storage",
    "StorageToggleStore",
    "StorageUnavailable",
    "ToggleStore",
    "add_response_tags",
    "cache_blueprint_defaults",
    "cache_response",
    "filling_response",
    "no_cache",
    "state_for",
]
