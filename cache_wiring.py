"""The app's response cache: one shared ``CacheCore`` and the HTTP face on top.

Contract:
- ``register_response_cache(app)`` binds ``response_cache`` (the extension)
  to ``app``. It must run after ``configure_limiter`` (so a cache hit is
  still rate-limited: Flask runs ``before_request`` hooks in registration
  order), after the request guards, and after ``register_cache_journal``.
- The core is ``app.extensions["cache_core"]`` when something already built
  it; otherwise it is built here and stored there (the service cache and
  ``services.invalidation`` use the same one): Redis with the app's shared
  client and circuit breaker when ``REDIS_URL`` is set, else the in-process
  store; ``NullStorage`` when ``CACHE_ENABLED`` is false. The journal is
  ``app.extensions["cache_journal"]``.
- The user id of ``scope="user"`` routes comes from ``services.auth``.
- Operators' tag purges (admin API, ``flask cache purge --tag``) go through
  ``services.invalidation.invalidate_tags``: journaled, so never lost.
- The fast hit path (``RESPONSE_CACHE_FAST_PATH``, default on) counts its hits
  with ``fast_path_limits.LimiterCharge`` (riding on the entry's read when the
  cache and the limiter share the Redis client), leaves the matched rule where
  the observability layer looks for it, and may skip these Flask hooks, each a
  no-op for an anonymous GET/HEAD cache hit: the limiter's (the charge does their
  work), the CSRF and JSON-body guards (write methods only), the session
  ``Cache-Control`` marker (a hit always carries its own ``Cache-Control`` and
  has no session) and observability's rule recorder (the rule is left for it).
"""

from __future__ import annotations

from flask import Flask

import api_limit
import fast_path_limits
import request_guards
import sessions
from extensions import db
from middleware.response_cache import (
    CacheCore,
    Layout,
    MemoryStorage,
    NullStorage,
    RedisStorage,
    ResponseCache,
    Storage,
)
from observability.middleware import RULE_KEY, remember_rule
from services import auth, invalidation
from services.toggle_store import SqlToggleStore

response_cache = ResponseCache()


def current_user_id() -> int | None:
    user = auth.current_user()
    return user.id if user is not None else None


def _storage(app: Flask) -> Storage:
    layout = Layout(app.config.get("CACHE_NAMESPACE", "rc"))
    if not app.config.get("CACHE_ENABLED", True):
        return NullStorage(layout)
    link = app.extensions.get("redis_link")
    if link is not None:
        return RedisStorage(link.client, layout, breaker=link.breaker)
    return MemoryStorage(layout)


def cache_core_for(app: Flask) -> CacheCore:
    """The app's shared cache core, built on first call."""
    existing: CacheCore | None = app.extensions.get("cache_core")
    if existing is not None:
        return existing
    storage = _storage(app)
    core = CacheCore(
        storage,
        journal=app.extensions.get("cache_journal"),
        trust_lease=0.5 if storage.shared else 0.0,
    )
    app.extensions["cache_core"] = core
    return core


def _toggle_store(app: Flask, core: CacheCore) -> SqlToggleStore | None:
    """Embedded mode: each worker's in-process store is its own, so runtime
    toggles live in the shared database instead (None: keep them in Redis)."""
    if core.storage.shared:
        return None
    with app.app_context():
        return SqlToggleStore(db.engine)


def register_response_cache(app: Flask) -> None:
    core = cache_core_for(app)
    app.config.setdefault("RESPONSE_CACHE_ENABLED", app.config.get("CACHE_ENABLED", True))
    app.config.setdefault("RESPONSE_CACHE_NAMESPACE", core.storage.layout.namespace)
    app.config.setdefault("RESPONSE_CACHE_USER_ID_LOADER", current_user_id)
    app.config.setdefault("RESPONSE_CACHE_IDENTIFIER", "posts-api")
    storage = core.storage
    charge: fast_path_limits.LimiterCharge = app.extensions["api_limit"]
    charge.use_pipeline(storage.client if isinstance(storage, RedisStorage) else None)
    response_cache.init_app(
        app,
        core=core,
        tag_invalidator=invalidation.invalidate_tags,
        toggle_store=_toggle_store(app, core),
        charge=charge,
        accounted_hooks=[
            *fast_path_limits.ACCOUNTED_HOOKS,
            api_limit.count_api_request,
            request_guards.refuse_cross_site_writes,
            request_guards.require_json_body,
            sessions.mark_session_responses_private,
            remember_rule,
        ],
        rule_environ_key=RULE_KEY,
    )
