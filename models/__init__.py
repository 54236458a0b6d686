"""SQLAlchemy 2 typed models. Models hold data and relationships only: no
commits, no caching, no HTTP; services own transactions."""

from __future__ import annotations

from flask import Flask

from extensions import db
from models.cache_tables import cache_outbox, cache_toggles
from models.post import Post, Tag, post_tags
from models.post_count import PostCount
from models.session_record import SessionRecord
from models.sqlite import configure_sqlite
from models.user import User


def init_database(app: Flask) -> None:
    """Flask-SQLAlchemy on ``app``; SQLite in WAL mode, broken files dropped (``sqlite.py``)."""
    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)


__all__ = [
    "Post",
    "PostCount",
    "SessionRecord",
    "Tag",
    "User",
    "cache_outbox",
    "cache_toggles",
    "init_database",
    "post_tags",
]
