"""Server-side sessions (Flask-Session interfaces).

Contract: with ``REDIS_URL`` sessions live in Redis under ``sess:<id>`` using
the app's shared client; in embedded mode they live in the ``sessions`` SQL
table. The cookie is HttpOnly, SameSite=Lax and Secure outside development
(``config.py``). Anonymous requests that never write the session create
nothing and set no cookie. Session data is serialised as JSON, never pickle.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.redis import RedisSessionInterface
from sqlalchemy import delete, select

from extensions import db
from models import SessionRecord
from models.types import utcnow

KEY_PREFIX = "sess:"


class SqlSessionInterface(ServerSideSessionInterface):
    """Sessions in the app's SQL database, on their own connection.

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
        if row is None:
            return None
        data: dict[str, Any] = self.serializer.decode(row[0])  # type: ignore[union-attr]
        return data

    def _delete_session(self, store_id: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.id == store_id))

    def _upsert_session(
        self, session_lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        data = self.serializer.encode(session)  # type: ignore[union-attr]
        expiry = utcnow() + session_lifetime
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.id == store_id))
            conn.execute(
                SessionRecord.__table__.insert().values(id=store_id, data=data, expiry=expiry)
            )

    def _delete_expired_sessions(self) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(SessionRecord).where(SessionRecord.expiry <= utcnow()))


def configure_sessions(app: Flask) -> None:
    link = app.extensions.get("redis_link")
    options: dict[str, Any] = {
        "key_prefix": KEY_PREFIX,
        "use_signer": False,
        "permanent": True,
        "sid_length": 32,
        "serialization_format": "json",
    }
    if link is not None:
        app.session_interface = RedisSessionInterface(app, client=link.client, **options)
    else:
        app.session_interface = SqlSessionInterface(app, cleanup_n_requests=None, **options)
