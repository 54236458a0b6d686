"""This app's use of the response cache: one ``init_cache`` wires the package to the app.

Contract:
- ``init_cache(app)`` (after ``init_database``, ``init_redis_link`` and
  ``init_rate_limits``: it checks) binds ``extensions.response_cache`` to ``app``: Redis
  storage on the app's shared client and circuit breaker when ``REDIS_URL`` is set, else
  the package's in-process store; ``CACHE_ENABLED=false`` switches the response cache and
  the value cache off. Invalidations are journaled in the app's database
  (``cache_outbox``, the package's ``SqlJournal``), even while the cache is off; in
  embedded mode the runtime toggles live there too (``SqlToggleStore``).
- The user id of ``scope="user"`` routes is ``services.auth.current_user_id``.
- Fast-path hits are counted by the package's ``LimiterCharge`` on this app's limiter
  (``middleware.rate_limits.charge_for``).
- ``service.py``: the recipe's service-level calls on the value cache;
  ``invalidation.py``: a write's commit and its invalidation, in order.
"""

from __future__ import annotations

from flask import Flask
from flask_response_cache import Layout, RedisStorage, Storage
from flask_response_cache.contrib.sqlalchemy import SqlJournal, SqlToggleStore

from extensions import CACHE_JOURNAL_KEY, db, response_cache
from middleware import rate_limits
from models import cache_outbox, cache_toggles
from observability.middleware import RULE_KEY, RequestObserver
from redis_link import REDIS_LINK, RedisLink
from services.auth import current_user_id

JOURNAL_KEY = CACHE_JOURNAL_KEY  # the app's SqlJournal (cache.invalidation records in it)


def _storage(app: Flask) -> Storage | None:
    """The shared Redis storage when the app has a Redis link (None: the package's
    in-process store)."""
    link: RedisLink | None = app.extensions[REDIS_LINK]
    if link is None:
        return None
    return RedisStorage(link.client, Layout(app.config["RESPONSE_CACHE_NAMESPACE"]), link.breaker)


def init_cache(app: Flask) -> None:
    missing = [
        key
        for key in (REDIS_LINK, "sqlalchemy", rate_limits.EXTENSION_KEY)
        if key not in app.extensions
    ]
    if missing:
        raise RuntimeError(f"init_cache needs {', '.join(missing)} first")
    if isinstance(app.wsgi_app, RequestObserver):
        raise RuntimeError("init_cache must run before init_observability (its fast path)")
    app.config.setdefault("RESPONSE_CACHE_ENABLED", app.config.get("CACHE_ENABLED", True))
    app.config.setdefault("RESPONSE_CACHE_NAMESPACE", app.config.get("CACHE_NAMESPACE", "rc"))
    app.config.setdefault("RESPONSE_CACHE_IDENTIFIER", "posts-api")
    storage = _storage(app) if app.config["RESPONSE_CACHE_ENABLED"] else None
    with app.app_context():
        engine = db.engine
    # Journaled even while the cache is switched off: the rows stay pending, and a
    # process that turns it back on replays them before it trusts Redis again.
    journal = SqlJournal(engine, cache_outbox)
    app.extensions[JOURNAL_KEY] = journal
    response_cache.init_app(
        app,
        storage=storage,
        journal=journal,
        # Embedded mode: each worker's store is its own, so toggles live in the database.
        toggle_store=SqlToggleStore(engine, cache_toggles) if storage is None else None,
        user_id=current_user_id,
        charge=rate_limits.charge_for(app),
        rule_environ_key=RULE_KEY,
    )
