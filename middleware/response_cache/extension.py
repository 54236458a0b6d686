"""``ResponseCache``: the Flask extension that caches whole HTTP responses.

Usage (any Flask app)::

    cache = ResponseCache()
    cache.init_app(app)                       # or ResponseCache(app)
    cache.init_app(app, core=shared_core)     # share a CacheCore with other caches

    @app.get("/posts")
    @cache_response(ttl=60, scope="public", tags=["posts"], query=["page"])
    def posts(): ...

``init_app`` defaults and validates every ``RESPONSE_CACHE_*`` setting (see
``settings.py``), keeps per-app state in ``app.extensions["response_cache"]``
(the extension object keeps no app), registers the ``flask cache`` CLI group
and, unless ``RESPONSE_CACHE_ENABLED`` is false, the request hooks (see
``flask_hooks.py`` for their order and contract). Call it *after* the rate
limiter's ``init_app`` so hits are rate-limited too. Unless
``RESPONSE_CACHE_FAST_PATH`` is false it also wraps ``app.wsgi_app`` in the
fast hit path (``fast_path.py``: hits of public routes answered below Flask);
layers the app installs afterwards wrap it in turn.

Without a ``core``, one is built from ``RESPONSE_CACHE_STORAGE``: an
in-process ``MemoryStorage`` (one cache per process), ``NullStorage`` (never
stores) or Redis at ``RESPONSE_CACHE_REDIS_URL`` with short timeouts and no
retries. Hand in a core whose storage has a circuit breaker for production
Redis (a hung server then costs one timeout per process, not per request).

Hooks for the application: ``toggle_store`` replaces where runtime toggles
live; ``tag_invalidator`` replaces how operators' tag purges are applied (an
app with a durable invalidation journal passes its own, so a purge made while
Redis is down is not lost). For the fast path: ``charge`` counts a hit answered
below Flask with the app's rate limiter; ``accounted_hooks`` names the app's
Flask request hooks that hits may skip (the fast path keeps a route on the Flask
path while any other hook applies to it); ``rule_environ_key`` is where the
matched URL rule is left for an outer layer (see ``fast_path.py``). Test seams:
the core's ``clock``, ``monotonic`` and ``sleep`` drive every timing decision of
the extension (entry ages, toggle refresh, counter flushes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from middleware.response_cache import flask_hooks
from middleware.response_cache.cli import cache_cli
from middleware.response_cache.core import CacheCore
from middleware.response_cache.fast_path import Charge, FastPath
from middleware.response_cache.layout import Layout
from middleware.response_cache.redis_storage import RedisStorage
from middleware.response_cache.routes import RouteDefaults, RouteTable
from middleware.response_cache.settings import Settings, load_settings
from middleware.response_cache.state import EXTENSION_KEY, CacheState
from middleware.response_cache.stats import Counters
from middleware.response_cache.storage import (
    MemoryStorage,
    NullStorage,
    Storage,
    StorageUnavailable,
)
from middleware.response_cache.toggles import StorageToggleStore, ToggleStore, ToggleView

REDIS_TIMEOUT = 0.25

# Operators' tag purges; raises StorageUnavailable when not applied (or queued).
TagInvalidator = Callable[[Sequence[str]], object]


def _direct_invalidator(core: CacheCore) -> TagInvalidator:
    def invalidate(tags: Sequence[str]) -> None:
        if not core.invalidate_tags(list(tags)):
            raise StorageUnavailable("the cache storage did not take the invalidation")

    return invalidate


def build_storage(settings: Settings) -> Storage:
    layout = Layout(settings.namespace)
    if settings.storage == "null":
        return NullStorage(layout)
    if settings.storage == "redis":
        assert settings.redis_url is not None
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        return RedisStorage(client, layout)
    return MemoryStorage(layout)


def build_core(settings: Settings) -> CacheCore:
    storage = build_storage(settings)
    return CacheCore(storage, trust_lease=0.5 if storage.shared else 0.0)


class ResponseCache:
    def __init__(
        self,
        app: Flask | None = None,
        core: CacheCore | None = None,
        *,
        toggle_store: ToggleStore | None = None,
        tag_invalidator: TagInvalidator | None = None,
        charge: Charge | None = None,
        accounted_hooks: Sequence[Any] = (),
        rule_environ_key: str | None = None,
    ) -> None:
        self.core = core
        self.toggle_store = toggle_store
        self.tag_invalidator = tag_invalidator
        self.charge = charge
        self.accounted_hooks = tuple(accounted_hooks)
        self.rule_environ_key = rule_environ_key
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: Flask,
        core: CacheCore | None = None,
        *,
        toggle_store: ToggleStore | None = None,
        tag_invalidator: TagInvalidator | None = None,
        charge: Charge | None = None,
        accounted_hooks: Sequence[Any] = (),
        rule_environ_key: str | None = None,
    ) -> CacheState:
        settings = load_settings(app.config)
        core = core or self.core or build_core(settings)
        store = toggle_store or self.toggle_store or StorageToggleStore(core.storage)
        invalidator = tag_invalidator or self.tag_invalidator or _direct_invalidator(core)
        state = CacheState(
            settings=settings,
            core=core,
            routes=RouteTable(app, RouteDefaults(settings.default_ttl, settings.overrides)),
            toggles=ToggleView(store, settings.toggle_refresh, core.monotonic),
            counters=Counters(core.storage, core.monotonic),
            invalidate_tags=invalidator,
        )
        app.extensions[EXTENSION_KEY] = state
        if cache_cli.name not in app.cli.commands:
            app.cli.add_command(cache_cli)
        if settings.enabled:
            _register_hooks(app, state)
            if settings.fast_path:
                state.fast_path = FastPath(
                    app,
                    state,
                    app.wsgi_app,
                    charge=charge or self.charge,
                    accounted_hooks=(*self.accounted_hooks, *accounted_hooks),
                    rule_environ_key=rule_environ_key or self.rule_environ_key,
                )
                app.wsgi_app = state.fast_path  # type: ignore[method-assign]
        return state


def _register_hooks(app: Flask, state: CacheState) -> None:
    before: Any = partial(flask_hooks.before_request, state)
    after: Any = partial(flask_hooks.after_request, state)
    teardown: Any = partial(flask_hooks.teardown_request, state)
    app.before_request(before)
    app.after_request(after)
    app.teardown_request(teardown)
