"""Server-side sessions stored in SQL (embedded mode, no Redis)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime


class SessionRecord(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sessions"

    # The store id: key prefix + the random session id from the cookie.
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    expiry: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
