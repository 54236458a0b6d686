"""SQLAlchemy 2 typed models. Models hold data and relationships only: no
commits, no caching, no HTTP; services own transactions."""

from __future__ import annotations

from models.cache_tables import cache_outbox, cache_toggles
from models.post import Post, Tag, post_tags
from models.post_count import PostCount
from models.session_record import SessionRecord
from models.user import User

__all__ = [
    "Post",
    "PostCount",
    "SessionRecord",
    "Tag",
    "User",
    "cache_outbox",
    "cache_toggles",
    "post_tags",
]
