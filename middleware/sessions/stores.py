"""Where sessions are stored: Redis (through the app's circuit breaker) or SQL.

Both subclass ``policy.SessionPolicy`` (strict ids, timeouts, degraded mode) and only
implement Flask-Session's three storage calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask
from flask_session.base import ServerSideSession
from sqlalchemy import delete, select

from extensions import db
from middleware.sessions.policy import SessionPolicy
from models import SessionRecord
from models.types import utcnow
from redis_link import RedisLink

T = TypeVar("T")


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
    """Sessions in the app's SQL database (embedded mode), on their own connection.

    Writes use a separate connection and transaction so saving a session can
    never commit (or roll back) whatever the view left in the ORM session.
    """

    ttl = False

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

    def _delete_expired_sessions(self) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.expiry <= utcnow()))
