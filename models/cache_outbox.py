"""The cache invalidation journal (an outbox): one row per committed write.

A row is inserted in the same transaction as the data change it describes,
so the invalidation is exactly as durable as the write. ``applied`` turns
true once the shared cache store acknowledged it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime, utcnow


class CacheOutbox(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cache_outbox"
    __table_args__ = (
        Index("ix_cache_outbox_applied_id", "applied", "id"),
        Index("ix_cache_outbox_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # JSON list of tag names.
    tags: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    applied: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
