"""Where sessions are stored: SQL cached in Redis (the default with Redis), SQL, or Redis.

Each subclasses ``policy.SessionPolicy`` (strict ids, timeouts, degraded mode) and only
implements Flask-Session's three storage calls.

- ``CachedSessions`` (``SESSION_BACKEND=cached``, Django's ``cached_db``): every session is
  written to the ``sessions`` table, and read through the response cache's value cache
  (``sessions:<id>`` in Redis, tagged ``session:<id>``). A read while Redis answers costs
  no query; with Redis down, slow or missing the key, the table answers. Every write and
  delete commits its row together with a journal row invalidating that tag, then applies
  it: a session changed or destroyed while Redis was down is dropped from Redis before
  Redis is believed again (the package's journal replay), so it cannot come back. An
  outage costs speed, never a login or a logout.
- ``SqlSessionInterface`` (``SESSION_BACKEND=sql``, embedded mode): the table only.
- ``RedisSessions`` (``SESSION_BACKEND=redis``): Redis only, through the breaker; with
  Redis down nobody can sign in (503) and signed-in requests are anonymous.

Expired rows are purged in bounded batches (``PURGE_BATCH`` oldest, by the ``expiry``
index) every ``PURGE_EVERY`` writes of a process: never a full scan.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_session.base import ServerSideSession
from sqlalchemy import Connection, Select, delete, select

from extensions import CACHE_JOURNAL_KEY, db, response_cache
from middleware.sessions.policy import SessionPolicy
from models import SessionRecord
from models.types import utcnow
from redis_link import RedisLink

T = TypeVar("T")

PURGE_EVERY = 100
PURGE_BATCH = 500


def expired_batch() -> Select[str]:
    """The ids of the ``PURGE_BATCH`` oldest expired rows: a range on the expiry index."""
    return (
        select(SessionRecord.id)
        .where(SessionRecord.expiry <= utcnow())
        .order_by(SessionRecord.expiry)
        .limit(PURGE_BATCH)
    )


class RedisSessions(SessionPolicy):
    """Sessions in Redis, every call through the app's circuit breaker.

    One key per session (GET, SET with a TTL, DEL), so the link's client may be a
    standalone server, a Sentinel master or a Cluster (Flask-Session's own
    ``RedisSessionInterface`` insists on a ``redis.Redis`` and silently builds
    one on localhost otherwise).
    """

    ttl = True

    def __init__(self, app: Flask, link: RedisLink, **options: Any) -> None:
        self.link = link
        super().__init__(app, **options)

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        stored = self.link.client.get(store_id)
        return self.serializer.decode(stored) if stored else None

    def _delete_session(self, store_id: str) -> None:
        self.link.client.delete(store_id)

    def _upsert_session(
        self, session_lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        seconds = max(1, int(session_lifetime.total_seconds()))
        self.link.client.set(store_id, self.serializer.encode(session), ex=seconds)

    def run(self, operation: Callable[[], T]) -> T:
        return self.link.execute(lambda _client: operation())

    def available(self) -> bool:
        return self.link.available

    def retry_after(self) -> int:
        return self.link.retry_after()


class SqlSessionInterface(SessionPolicy):
    """Sessions in the app's SQL database, on their own connection.

    Writes use a separate connection and transaction so saving a session can
    never commit (or roll back) whatever the view left in the ORM session.
    """

    ttl = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writes = count(1)

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        with db.engine.connect() as conn:
            row = conn.execute(
                select(SessionRecord.data).where(
                    SessionRecord.id == store_id, SessionRecord.expiry > utcnow()
                )
            ).first()
        return None if row is None else self.serializer.decode(row[0])

    def _delete_session(self, store_id: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.id == store_id))
            entry = self._written(conn, store_id)
        self._committed(store_id, entry)

    def _upsert_session(
        self, session_lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        data = self.serializer.encode(session)
        expiry = utcnow() + session_lifetime
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.id == store_id))
            conn.execute(
                SessionRecord.__table__.insert().values(id=store_id, data=data, expiry=expiry)
            )
            entry = self._written(conn, store_id)
        self._committed(store_id, entry)

    def _written(self, conn: Connection, store_id: str) -> int | None:
        """Inside a write's transaction: purge a batch of expired rows now and then."""
        if next(self._writes) % PURGE_EVERY == 0:
            conn.execute(delete(SessionRecord).where(SessionRecord.id.in_(expired_batch())))
        return None

    def _committed(self, store_id: str, entry: int | None) -> None:
        """After a write's transaction committed (the cached store invalidates here)."""

    def _delete_expired_sessions(self) -> None:
        # Flask-Session's own cleanup hook (off here: cleanup_n_requests=None), bounded too.
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.id.in_(expired_batch())))


class CachedSessions(SqlSessionInterface):
    """Durable in SQL, read through Redis (see the module docstring)."""

    def _cache_key(self, store_id: str) -> str:
        return f"sessions:{store_id}"

    def _tag(self, store_id: str) -> str:
        return f"session:{store_id}"

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        return response_cache.get_or_set(
            self._cache_key(store_id),
            lambda: super(CachedSessions, self)._retrieve_session_data(store_id),
            ttl=float(self.app.config["SESSION_IDLE_TIMEOUT"]),
            tags=[self._tag(store_id)],
        )

    def _written(self, conn: Connection, store_id: str) -> int | None:
        super()._written(conn, store_id)
        journal = current_app.extensions[CACHE_JOURNAL_KEY]
        return int(journal.record(conn, [self._tag(store_id)]))

    def _committed(self, store_id: str, entry: int | None) -> None:
        assert entry is not None
        # Never raises because of Redis: kept pending and replayed before Redis is trusted.
        response_cache.invalidate_tags(self._tag(store_id), recorded=entry)
