"""Durable invalidations and shared runtime toggles in your SQL database (SQLAlchemy 2).

Install with ``pip install 'flask-response-cache[sqlalchemy]'``::

    from flask_response_cache.contrib.sqlalchemy import (
        SqlJournal, SqlToggleStore, journal_table, toggle_table,
    )

    outbox = journal_table(db.metadata)        # created by db.create_all() / migrations
    toggles = toggle_table(db.metadata)

    with app.app_context():
        journal = SqlJournal(db.engine, outbox)
        cache = ResponseCache(app, journal=journal, toggle_store=SqlToggleStore(db.engine, toggles))

    # a write: the invalidation joins the write's transaction, then is applied
    entry = journal.record(db.session, ["posts", f"post:{post.id}"])
    db.session.commit()
    cache.invalidate_tags("posts", f"post:{post.id}", recorded=entry)

Contract of ``SqlJournal`` (the ``journal.Journal`` protocol, ``durable = True``):

- ``record(session, tags)`` inserts a row on the caller's session or connection, inside
  the caller's transaction (``INSERT ... RETURNING id``: SQLite >= 3.35, PostgreSQL,
  MariaDB >= 10.5), and returns its id: the invalidation is exactly as durable as the
  write it describes. ``record_now(tags)`` does the same in a transaction of its own.
- ``pending``, ``recent``, ``max_applied`` and ``mark_applied`` run on their own short
  connections, never inside a request's transaction.
- Any database error surfaces as ``JournalUnavailable``: the cache treats an unreadable
  journal as "do not trust the store" rather than crashing.
- Applied rows older than ``retention`` are pruned (every 100th ``mark_applied``),
  except the newest applied row, which keeps ``max_applied`` answerable.

Contract of ``SqlToggleStore`` (the ``toggles.ToggleStore`` protocol, ``shared = True``):
``version()`` is one aggregate query (each process asks at most every
``RESPONSE_CACHE_TOGGLE_REFRESH`` seconds); ``save`` upserts the row with a version above
every existing one. The store's version is the *sum* of the rows' versions: every
committed save raises its row's version, so the sum grows with each save even when two
concurrent saves chose the same number. Database errors surface as
``StorageUnavailable``, so the last known toggles stay in force.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from ..journal import JournalEntry, JournalUnavailable
from ..storage import StorageUnavailable
from ..toggles import RouteToggle

# Ids are allocated before commit, so on PostgreSQL a slow transaction can commit a
# smaller id after a larger one was seen; per-process stores re-read rows this young to
# catch those late arrivals.
LATE_COMMIT_HORIZON = timedelta(seconds=60)
UTC = UTC  # datetime.UTC is Python 3.11+


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def journal_table(metadata: MetaData, name: str = "cache_outbox") -> Table:
    """The journal's table on ``metadata`` (one row per committed invalidation)."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("tags", Text, nullable=False),  # a JSON list of tag names
        Column("created_at", UTCDateTime, nullable=False, default=_utcnow),
        Column("applied", Boolean, nullable=False, default=False),
        Index(f"ix_{name}_applied_id", "applied", "id"),
        Index(f"ix_{name}_created_at", "created_at"),
    )


def toggle_table(metadata: MetaData, name: str = "cache_toggles") -> Table:
    """The runtime toggles' table on ``metadata`` (one row per toggled endpoint)."""
    return Table(
        name,
        metadata,
        Column("endpoint", String(200), primary_key=True),
        Column("enabled", Boolean, nullable=False, default=True),
        Column("ttl", Integer, nullable=True),
        Column("version", Integer, nullable=False, default=1),  # bumped on every save
    )


class SqlJournal:
    durable = True

    def __init__(
        self, engine: Engine, table: Table, retention: timedelta = timedelta(minutes=10)
    ) -> None:
        self.engine = engine
        self.table = table
        self.retention = retention
        self._prune_every = count()
        # A per-process store that has not read the journal for this long may have
        # missed pruned rows: it starts a new epoch (trust.py).
        self.retention_seconds = retention.total_seconds() - LATE_COMMIT_HORIZON.total_seconds()
        self._record = insert(table).returning(table.c.id)
        self._mark = (
            update(table)
            .where(table.c.id.in_(bindparam("ids", expanding=True)))
            .values(applied=True)
        )

    def _values(self, tags: Sequence[str]) -> dict[str, Any]:
        return {"tags": json.dumps(list(tags)), "created_at": _utcnow(), "applied": False}

    def record(self, session: Any, tags: Sequence[str]) -> int:
        """Insert the entry in the caller's transaction (a Session or a Connection)."""
        return int(session.execute(self._record, self._values(tags)).scalar_one())

    def record_now(self, tags: Sequence[str]) -> int:
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(self._record, self._values(tags)).scalar_one())
        except SQLAlchemyError as exc:
            raise JournalUnavailable(str(exc)) from exc

    def pending(self) -> list[JournalEntry]:
        t = self.table
        stmt = select(t.c.id, t.c.tags).where(t.c.applied.is_(False)).order_by(t.c.id)
        return self._entries(stmt)

    def recent(self, after_id: int) -> list[JournalEntry]:
        t = self.table
        horizon = _utcnow() - LATE_COMMIT_HORIZON
        stmt = (
            select(t.c.id, t.c.tags)
            .where(or_(t.c.id > after_id, t.c.created_at > horizon))
            .order_by(t.c.id)
        )
        return self._entries(stmt)

    def max_applied(self) -> int:
        t = self.table
        stmt = select(func.max(t.c.id)).where(t.c.applied.is_(True))
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
                conn.execute(self._mark, {"ids": list(ids)})
                if next(self._prune_every) % 100 == 0:
                    self._prune(conn)
        except SQLAlchemyError as exc:
            raise JournalUnavailable(str(exc)) from exc

    def _prune(self, conn: Any) -> None:
        t = self.table
        newest = select(func.max(t.c.id)).where(t.c.applied.is_(True)).scalar_subquery()
        conn.execute(
            delete(t).where(
                t.c.applied.is_(True),
                t.c.created_at < _utcnow() - self.retention,
                t.c.id < newest,
            )
        )

    def _entries(self, stmt: Any) -> list[JournalEntry]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise JournalUnavailable(str(exc)) from exc
        return [(int(row[0]), tuple(json.loads(row[1]))) for row in rows]


class SqlToggleStore:
    shared = True

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table

    def version(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.sum(self.table.c.version))).scalar() or 0)
        except SQLAlchemyError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def load(self) -> dict[str, RouteToggle]:
        t = self.table
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(t.c.endpoint, t.c.enabled, t.c.ttl)).all()
        except SQLAlchemyError as exc:
            raise StorageUnavailable(str(exc)) from exc
        return {endpoint: RouteToggle(enabled, ttl) for endpoint, enabled, ttl in rows}

    def save(self, endpoint: str, toggle: RouteToggle) -> None:
        t = self.table
        try:
            with self.engine.begin() as conn:
                top = conn.execute(select(func.max(t.c.version))).scalar() or 0
                values = {"enabled": toggle.enabled, "ttl": toggle.ttl, "version": int(top) + 1}
                changed = conn.execute(update(t).where(t.c.endpoint == endpoint).values(values))
                if changed.rowcount == 0:
                    conn.execute(insert(t).values(endpoint=endpoint, **values))
        except SQLAlchemyError as exc:
            raise StorageUnavailable(str(exc)) from exc
