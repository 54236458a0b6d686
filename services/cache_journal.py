"""The SQL implementation of the cache's invalidation journal (outbox).

Contract (see ``middleware.response_cache.journal``):
- ``record(session, tags)`` inserts a row on the caller's session, inside the
  caller's transaction, and returns its id;
- ``pending``, ``recent``, ``max_applied`` and ``mark_applied`` run on their
  own short connections, never inside a request's transaction;
- any database error surfaces as ``JournalUnavailable``, so the cache treats
  an unreadable journal as "do not trust the store" rather than crashing;
- applied rows older than ``retention`` are pruned, except the newest applied
  row, which keeps ``max_applied`` answerable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from itertools import count
from typing import Any

import orjson
from sqlalchemy import Engine, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from middleware.response_cache.core import JournalUnavailable
from middleware.response_cache.journal import JournalEntry
from models import CacheOutbox
from models.types import utcnow

# Ids are allocated before commit, so on PostgreSQL a slow transaction can
# commit a smaller id after a larger one was seen; per-process stores
# re-read rows this young to catch those late arrivals.
LATE_COMMIT_HORIZON = timedelta(seconds=60)


# One INSERT ... RETURNING id on the caller's connection (SQLite >= 3.35, PostgreSQL): no
# ORM object to flush, and the id without a second statement.
_OUTBOX = CacheOutbox.__table__
_RECORD = insert(_OUTBOX).returning(_OUTBOX.c.id)
# On the table, not the mapped class: an ORM-enabled UPDATE on a plain connection costs
# about twice the CPU of this one (~390 vs ~220 us with its commit, SQLite).
_MARK_APPLIED = (
    update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True))).values(applied=True)
)


class SqlJournal:
    def __init__(self, engine: Engine, retention: timedelta = timedelta(minutes=10)) -> None:
        self.engine = engine
        self.retention = retention
        self._prune_every = count()

    def record(self, session: Session | scoped_session[Any], tags: Sequence[str]) -> int:
        values = {
            "tags": orjson.dumps(list(tags)).decode(),
            "created_at": utcnow(),
            "applied": False,
        }
        return int(session.execute(_RECORD, values).scalar_one())

    def pending(self) -> list[JournalEntry]:
        stmt = (
            select(CacheOutbox.id, CacheOutbox.tags)
            .where(CacheOutbox.applied.is_(False))
            .order_by(CacheOutbox.id)
        )
        return self._entries(stmt)

    def recent(self, after_id: int) -> list[JournalEntry]:
        horizon = utcnow() - LATE_COMMIT_HORIZON
        stmt = (
            select(CacheOutbox.id, CacheOutbox.tags)
            .where(or_(CacheOutbox.id > after_id, CacheOutbox.created_at > horizon))
            .order_by(CacheOutbox.id)
        )
        return self._entries(stmt)

    def max_applied(self) -> int:
        stmt = select(func.max(CacheOutbox.id)).where(CacheOutbox.applied.is_(True))
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(stmt).scalar() or 0)
        except SQLAlchemyError as exc:
            raise JournalUnavailable(str(exc)) from exc

    def mark_applied(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(_MARK_APPLIED, {"ids": list(ids)})
                if next(self._prune_every) % 100 == 0:
                    self._prune(conn)
        except SQLAlchemyError as exc:
            raise JournalUnavailable(str(exc)) from exc

    def _prune(self, conn: object) -> None:
        newest = select(func.max(CacheOutbox.id)).where(CacheOutbox.applied.is_(True))
        conn.execute(  # type: ignore[attr-defined]
            delete(CacheOutbox).where(
                CacheOutbox.applied.is_(True),
                CacheOutbox.created_at < utcnow() - self.retention,
                CacheOutbox.id < newest.scalar_subquery(),
            )
        )

    def _entries(self, stmt: object) -> list[JournalEntry]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()  # type: ignore[call-overload]
        except SQLAlchemyError as exc:
            raise JournalUnavailable(str(exc)) from exc
        return [(int(row[0]), tuple(orjson.loads(row[1]))) for row in rows]
