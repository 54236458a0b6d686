"""The app's response cache: the package ``flask_response_cache`` wired to this app.

Contract:
- ``register_response_cache(app)`` binds ``response_cache`` (the extension) to
  ``app``: Redis storage on the app's shared client and circuit breaker when
  ``REDIS_URL`` is set, else the in-process store; ``CACHE_ENABLED=false`` switches
  both the response cache and the value cache off. Invalidations are journaled in the
  app's database (``cache_outbox``, the package's ``SqlJournal``); in embedded mode the
  runtime toggles live there too (``SqlToggleStore``: every worker reads them).
- The user id of ``scope="user"`` routes comes from ``services.auth``.
- Fast-path hits are counted by the package's ``LimiterCharge`` on this app's
  Flask-Limiter (``rate_limits.charge_for``: its environ twins and its header
  formatter, so both paths send the same headers).
- It runs after the database (the journal needs its engine) and the Redis link; its
  position among the other ``init_*`` calls does not matter for correctness: the
  cache is consulted inside each view, after every request hook.
"""

from __future__ import annotations

from flask import Flask
from flask_response_cache import Layout, RedisStorage, ResponseCache, Storage
from flask_response_cache.contrib.sqlalchemy import SqlJournal, SqlToggleStore

import rate_limits
from extensions import db
from models import cache_outbox, cache_toggles
from observability.middleware import RULE_KEY
from redis_link import RedisLink
from services import auth

response_cache = ResponseCache()
# app.extensions key of the app's SqlJournal (services.invalidation records in it).
JOURNAL_KEY = "cache_journal"


def current_user_id() -> int | None:
    user = auth.current_user()
    return user.id if user is not None else None


def _storage(app: Flask) -> Storage | None:
    """The shared Redis storage when the app has a Redis link (None: the package's
    in-process store)."""
    link: RedisLink | None = app.extensions.get("redis_link")
    if link is None:
        return None
    return RedisStorage(link.client, Layout(app.config["RESPONSE_CACHE_NAMESPACE"]), link.breaker)


def register_response_cache(app: Flask) -> None:
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
