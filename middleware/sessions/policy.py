"""The session policy every store shares: strict ids, timeouts, touch, degraded mode.

Contract (``SessionPolicy``, a Flask-Session interface; stores subclass it and
implement ``_retrieve_session_data``/``_upsert_session``/``_delete_session``):
- An id that is missing, implausible (not 1-64 url-safe characters) or unknown
  to the store gets a fresh, empty session: ids are never adopted (OWASP:
  strict session management). Stored data is JSON only.
- A stored session idle for ``SESSION_IDLE_TIMEOUT`` since ``seen_at``, or older
  than ``SESSION_ABSOLUTE_TIMEOUT`` since ``auth_at`` (epoch seconds from
  ``app.config["CLOCK"]``, default ``time.time``), is ended on opening: its key
  is deleted and its cookie expired when the response is saved. ``seen_at`` is
  rewritten only when older than ``TOUCH_INTERVAL``, so reading a session
  costs no write. Store TTL: min(idle, absolute time left), a backstop.
- ``run(op)`` is how every store call is made (the Redis store sends it through
  the circuit breaker); ``available()`` says whether to try at all. A store
  that cannot be read yields an ``unavailable`` session: anonymous, nothing
  written, no Set-Cookie, ``Cache-Control: no-store``.
- ``regenerate`` always issues a new id and deletes the stored old one;
  ``write`` stores the session at once and raises the store's errors.
- A session is saved only when modified, never refreshed per request; the
  cookie is set only after a successful write, expires at the absolute
  deadline, and its response gets ``Cache-Control: no-store``.
- The opened session is also kept in ``request.environ[ENVIRON_KEY]`` so helpers
  can inspect it without going through ``flask.session``, which marks the
  session accessed on every touch (Flask >= 3.1.3).
"""

from __future__ import annotations

import logging
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
import redis
from flask import Flask, Request, Response
from flask_session.base import Serializer, ServerSideSession, ServerSideSessionInterface

log = logging.getLogger(__name__)

TOUCH_INTERVAL = 60  # seconds: how stale seen_at may get before it is rewritten
ENVIRON_KEY = "app.session"
_SID_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
_SID_MAX_LENGTH = 64
T = TypeVar("T")


class AppSession(ServerSideSession):  # type: ignore[misc]
    """A session plus what this request knows about its stored copy."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable = False  # the store could not be read: anonymous, write nothing
        self.stored_as: dict[str, Any] | None = None  # the data the store holds for sid


class JsonSerializer(Serializer):  # type: ignore[misc]
    """JSON only: Flask-Session's default decoder falls back to pickle."""

    def encode(self, session: ServerSideSession) -> bytes:
        return msgspec.json.encode(dict(session))

    def decode(self, serialized_data: bytes) -> dict[str, Any]:
        try:
            data = msgspec.json.decode(serialized_data)
        except msgspec.DecodeError as exc:
            raise ValueError("stored session is not JSON") from exc
        if not isinstance(data, dict):
            raise ValueError("stored session is not an object")
        return data


def _plausible_sid(sid: str) -> bool:
    return len(sid) <= _SID_MAX_LENGTH and set(sid) <= _SID_CHARS


class SessionPolicy(ServerSideSessionInterface):  # type: ignore[misc]
    """Timeouts, strict ids and degraded mode on top of any Flask-Session store."""

    session_class = AppSession

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serializer = JsonSerializer()

    # Store access: the Redis interface routes these through the breaker.
    def run(self, operation: Callable[[], T]) -> T:
        return operation()

    def available(self) -> bool:
        return True

    def retry_after(self) -> int:
        return 1

    def now(self) -> float:
        clock: Callable[[], float] = self.app.config.get("CLOCK") or time.time
        return clock()

    def _new(self, sid: str | None = None) -> AppSession:
        sid = sid or self._generate_sid(self.sid_length)
        return self.session_class(sid=sid, permanent=self.permanent)

    def open_session(self, app: Flask, request: Request) -> AppSession:
        opened = self._open(app, request)
        # Kept where helpers can look without going through flask.session,
        # which marks the session accessed on every touch (Flask >= 3.1.3).
        request.environ[ENVIRON_KEY] = opened
        return opened

    def _open(self, app: Flask, request: Request) -> AppSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or not _plausible_sid(sid):
            return self._new()
        if not self.available():
            return self._unreadable(sid)
        try:
            data = self.run(lambda: self._retrieve_session_data(self._get_store_id(sid)))
        except redis.RedisError:
            return self._unreadable(sid)
        except ValueError:
            data = None  # garbage in the store: start afresh, never a 500
        if data is None:
            return self._new()
        return self._within_timeouts(self.session_class(data, sid=sid))

    def _unreadable(self, sid: str) -> AppSession:
        stub = self._new(sid)
        stub.unavailable = True
        return stub

    def _within_timeouts(self, stored: AppSession) -> AppSession:
        now = self.now()
        auth_at, seen_at = dict.get(stored, "auth_at"), dict.get(stored, "seen_at")
        config = self.app.config
        if (
            not isinstance(auth_at, int | float)
            or not isinstance(seen_at, int | float)
            or now - seen_at >= config["SESSION_IDLE_TIMEOUT"]
            or now - auth_at >= config["SESSION_ABSOLUTE_TIMEOUT"]
        ):
            ended = self._new(stored.sid)
            ended.modified = True  # save_session deletes the key and expires the cookie
            return ended
        stored.stored_as = dict(stored)
        if now - seen_at >= TOUCH_INTERVAL:
            stored["seen_at"] = now
        stored.accessed = False  # the interface's own reads say nothing about the response
        return stored

    def regenerate(self, session: AppSession) -> None:
        """New id whatever the content (Flask-Session's own skips empty sessions)."""
        old_sid, had_store = session.sid, session.stored_as is not None
        session.sid = self._generate_sid(self.sid_length)
        session.stored_as = None
        session.modified = True
        if had_store:
            self.run(lambda: self._delete_session(self._get_store_id(old_sid)))

    def write(self, session: AppSession) -> None:
        """Store the session now (raises the store's errors)."""
        if session.stored_as == dict(session):
            return
        now = self.now()
        dict.setdefault(session, "auth_at", now)
        dict.setdefault(session, "seen_at", now)
        store_id = self._get_store_id(session.sid)
        self.run(lambda: self._upsert_session(self._time_left(session, now), session, store_id))
        session.stored_as = dict(session)

    def _time_left(self, session: AppSession, now: float) -> timedelta:
        config = self.app.config
        elapsed = now - dict.get(session, "auth_at", now)
        absolute_left = config["SESSION_ABSOLUTE_TIMEOUT"] - elapsed
        return timedelta(seconds=max(1, int(min(config["SESSION_IDLE_TIMEOUT"], absolute_left))))

    def save_session(self, app: Flask, session: AppSession, response: Response) -> None:
        if session.accessed or session.unavailable:
            response.vary.add("Cookie")
        if session.unavailable:
            # Computed for a degraded (anonymous) identity: must not outlive the outage.
            response.headers["Cache-Control"] = "no-store"
            return
        if not session:
            if session.modified:  # logged out, expired or revoked
                self._quietly(lambda: self._delete_session(self._get_store_id(session.sid)))
                response.delete_cookie(**self._cookie_options(app))
                response.vary.add("Cookie")
            return
        if not session.modified or not self._quietly(lambda: self.write(session)):
            return  # never hand out a cookie for a session the store does not hold
        # The cookie lasts as long as the session can (real time: CLOCK may be a test's).
        elapsed = self.now() - dict.get(session, "auth_at", 0)
        lifetime = max(0, app.config["SESSION_ABSOLUTE_TIMEOUT"] - elapsed)
        expires = datetime.now(UTC) + timedelta(seconds=lifetime)
        response.set_cookie(value=session.sid, expires=expires, **self._cookie_options(app))
        response.vary.add("Cookie")
        response.headers["Cache-Control"] = "no-store"

    def _cookie_options(self, app: Flask) -> dict[str, Any]:
        return {
            "key": self.get_cookie_name(app),
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "secure": self.get_cookie_secure(app),
            "httponly": self.get_cookie_httponly(app),
            "samesite": self.get_cookie_samesite(app),
            "partitioned": self.get_cookie_partitioned(app),
        }

    def _quietly(self, operation: Callable[[], None]) -> bool:
        try:
            operation()
        except redis.RedisError as exc:
            # The breaker logs the outage once; this is per request.
            log.debug("session store write skipped: %s", exc)
            return False
        return True
