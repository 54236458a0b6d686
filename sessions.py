"""Server-side sessions: where they live, and what views and services may ask of them.

Contract:
- With ``REDIS_URL`` sessions live in Redis under ``sess:<id>`` through the
  app's ``RedisLink`` (short timeouts, circuit breaker); in embedded mode, or
  with ``SESSION_BACKEND=sql``, in the ``sessions`` SQL table. Both follow
  ``session_policy.SessionPolicy``: strict 256-bit ids, idle and absolute
  timeouts from ``auth_at``/``seen_at``, no write per read, JSON only.
- The cookie is HttpOnly, SameSite=Lax and Secure outside development
  (config.py), set only after the session was stored.
- Store unavailable (circuit open, or a ``RedisError`` while reading): the
  request carries on as anonymous and nothing is written (the user's cookie
  survives the outage; the response is ``no-store``). Callers that need the
  session ask ``session_unreadable()`` or ``store_unavailable()`` and answer
  503 themselves.
- ``start_session(values)`` (login) sets the values, issues a new id, deletes
  the old one and stores the session before returning, raising
  ``SessionStoreUnavailable`` if any of that fails: a login never reports
  success without a stored session. ``end_session()`` empties the session; the
  key is deleted and the cookie expired when the response is saved.
- Responses whose view read the session's values get ``Cache-Control:
  private`` (auth routes: ``no-store``) unless the view chose one (RFC 9111
  5.2.2); responses that set the cookie always get ``no-store`` (OWASP).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import redis
from flask import Flask, Response, current_app, request, session
from flask_response_cache import fast_hit_safe
from flask_session.base import ServerSideSession
from sqlalchemy import delete, select

from extensions import db
from models import SessionRecord
from models.types import utcnow
from redis_link import RedisLink
from session_policy import ENVIRON_KEY, AppSession, SessionPolicy

KEY_PREFIX = "sess:"
AUTH_PATH = "/api/v1/auth/"
T = TypeVar("T")


class SessionStoreUnavailable(Exception):
    """The session store cannot be used now; answer 503 with ``retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("session store unavailable")
        self.retry_after = retry_after


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


def configure_sessions(app: Flask) -> None:
    link: RedisLink | None = app.extensions.get("redis_link")
    options: dict[str, Any] = {
        "key_prefix": KEY_PREFIX,
        "use_signer": False,
        "permanent": True,
        "sid_length": 32,
        "serialization_format": "json",
    }
    backend = app.config.get("SESSION_BACKEND") or ("redis" if link is not None else "sql")
    if backend == "redis":
        if link is None:
            raise RuntimeError("SESSION_BACKEND=redis needs REDIS_URL")
        app.session_interface = RedisSessions(app, link, **options)
    else:
        app.session_interface = SqlSessionInterface(app, cleanup_n_requests=None, **options)
    app.after_request(mark_session_responses_private)


@fast_hit_safe("a cache hit carries its own Cache-Control and has no session")
def mark_session_responses_private(response: Response) -> Response:
    """RFC 9111 5.2.2: a response built from a session is for that user only."""
    if "Cache-Control" not in response.headers:
        if request.path.startswith(AUTH_PATH):
            response.headers["Cache-Control"] = "no-store"
        elif _current_session().accessed:
            response.headers["Cache-Control"] = "private"
    return response


# What views and services use (all act on the current request's session, and
# none of them marks it accessed: only reading its values does).


def _interface() -> SessionPolicy:
    interface: SessionPolicy = current_app.session_interface  # type: ignore[assignment]
    return interface


def _current_session() -> AppSession:
    opened: AppSession | None = request.environ.get(ENVIRON_KEY)
    if opened is None:  # opened by another interface (a test swapped it): use Flask's
        opened = session._get_current_object()  # type: ignore[attr-defined]
    return opened


def session_unreadable() -> bool:
    """The request carried a session cookie the store could not read."""
    return _current_session().unavailable


def store_unavailable() -> bool:
    """A login now would fail: the session is unreadable or the store is down."""
    return session_unreadable() or not _interface().available()


def retry_after() -> int:
    return _interface().retry_after()


def has_stored_data() -> bool:
    """Whether this request came with a stored session at all."""
    current = _current_session()
    return bool(current) and current.stored_as is not None


def start_session(values: dict[str, Any]) -> None:
    """Log in: new id, ``values`` plus fresh timestamps, stored before returning."""
    interface, current = _interface(), _current_session()
    if store_unavailable():
        raise SessionStoreUnavailable(interface.retry_after())
    started = interface.now()
    current.clear()
    current.update(values, auth_at=started, seen_at=started)
    try:
        interface.regenerate(current)
        interface.write(current)
    except redis.RedisError:
        current.clear()
        current.modified = False  # nothing to delete; leave the client's cookie alone
        raise SessionStoreUnavailable(interface.retry_after()) from None


def end_session() -> None:
    """Empty the session; the response deletes its key and expires its cookie."""
    if session_unreadable():
        raise SessionStoreUnavailable(retry_after())
    _current_session().clear()
