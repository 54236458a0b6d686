"""Runtime cache toggles kept in SQL (embedded mode: no shared Redis)."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


class CacheToggle(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cache_toggles"

    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Bumped on every save; the store's version is the maximum over all rows.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
