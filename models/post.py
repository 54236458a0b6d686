"""Posts, tags and the association between them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import UTCDateTime, utcnow
from models.user import User

post_tags = Table(
    "post_tags",
    db.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_post_tags_tag_id", "tag_id"),
)


class Tag(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)


class Post(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "posts"
    # The list query filters on published and orders newest first; an author's own list
    # (drafts included) filters on author_id alone.
    __table_args__ = (
        Index("ix_posts_published_created", "published", "created_at", "id"),
        Index("ix_posts_author_created", "author_id", "created_at", "id"),
        # The public list by author (``?author_id=``): published posts of one author, newest
        # first, counted and paged from this index alone. Without it SQLite (no ANALYZE
        # stats) sees one equality column in each index above and picks by creation order,
        # which create_all does not fix: half the databases walked every published post
        # checking the author in the table (~5 ms a list on 10,000 posts instead of ~50 us).
        Index("ix_posts_author_published_created", "author_id", "published", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    author_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )

    author: Mapped[User] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, lazy="selectin", order_by=Tag.id)
