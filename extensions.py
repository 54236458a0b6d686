"""Unbound extension instances, created once and bound in ``create_app``.

Nothing here keeps an app: per-app state lives in ``app.extensions`` (Flask's
extension rule), so tests can build many apps in one process. The rate limiter is
built per app instead (``middleware.rate_limits``): Flask-Limiter keeps its storage on
the instance.
"""

from __future__ import annotations

from flask_response_cache import ResponseCache
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from blueprints.api import JsonApi


class Base(DeclarativeBase):
    """Declarative base of every model (SQLAlchemy 2 typed mappings)."""


# app.extensions key of the app's durable invalidation journal (``cache.init_cache`` sets it;
# ``cache.invalidation`` and the cached session store record in it).
CACHE_JOURNAL_KEY = "cache_journal"

db = SQLAlchemy(model_class=Base)
api = JsonApi()
response_cache = ResponseCache()
