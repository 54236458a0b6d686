"""Server-side sessions: where they live, and what views and services may ask of them.

Contract:
- With ``REDIS_URL`` sessions are durable in the ``sessions`` SQL table and cached in
  Redis (``SESSION_BACKEND=cached``, ``stores.CachedSessions``): a Redis outage costs
  speed, never a login, a logout or a signed-in write. In embedded mode, or with
  ``SESSION_BACKEND=sql``, the table only; ``SESSION_BACKEND=redis`` keeps them in Redis
  only (``sess:<id>``, through the circuit breaker). All follow ``policy.SessionPolicy``:
  strict 256-bit ids, idle and absolute timeouts from ``auth_at``/``seen_at``, no write
  per read, JSON only; ``services.auth`` refuses a session whose ``session_version`` is
  behind the user's (logout, logout-all), wherever it came from.
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

from typing import Any

import redis
from flask import Flask, Response, current_app, request, session
from flask_response_cache import fast_hit_safe

from middleware.sessions.policy import ENVIRON_KEY, AppSession, SessionPolicy
from middleware.sessions.stores import CachedSessions, RedisSessions, SqlSessionInterface
from redis_link import REDIS_LINK, RedisLink

KEY_PREFIX = "sess:"
AUTH_PATH = "/api/v1/auth/"


class SessionStoreUnavailable(Exception):
    """The session store cannot be used now; answer 503 with ``retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("session store unavailable")
        self.retry_after = retry_after


def init_sessions(app: Flask) -> None:
    if REDIS_LINK not in app.extensions:
        raise RuntimeError("init_sessions needs init_redis_link first (its store)")
    link: RedisLink | None = app.extensions[REDIS_LINK]
    options: dict[str, Any] = {
        "key_prefix": KEY_PREFIX,
        "use_signer": False,
        "permanent": True,
        "sid_length": 32,
        "serialization_format": "json",
    }
    backend = app.config.get("SESSION_BACKEND") or ("cached" if link is not None else "sql")
    if backend == "sql":
        app.session_interface = SqlSessionInterface(app, cleanup_n_requests=None, **options)
    elif link is None:
        raise RuntimeError(f"SESSION_BACKEND={backend} needs REDIS_URL")
    elif backend == "redis":
        app.session_interface = RedisSessions(app, link, **options)
    else:
        app.session_interface = CachedSessions(app, cleanup_n_requests=None, **options)
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
