"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_response_cache.contrib.sqlalchemy import UTCDateTime as SqlUTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


# Timezone-aware UTC datetimes on every database (SQLite returns naive ones): the same
# column type the response cache's own tables use.
UTCDateTime = SqlUTCDateTime
