"""Login state kept in the server-side session, checked against the database.

Contract:
- ``log_in(email, password)`` answers, in this order: 503 (``Retry-After``) when
  the session store is unavailable; 429 (``Retry-After``) when the account
  (normalised e-mail, known or not) has used up ``RATELIMIT_LOGIN_FAILURES``;
  401 with one generic message for an unknown e-mail or a wrong password (each
  costs one argon2 verification and one failure on the account); else it
  starts a new session (new id, old one destroyed: no fixation) holding the
  user id and the user's ``session_version``, stored before success is
  reported, and clears the account's failures.
- ``current_user()`` is the logged-in user or None. It trusts a session only if
  its ``session_version`` still equals the database's, so a session issued
  before a logout (or "log out everywhere"), even one brought back by a Redis
  restore, is refused and cleared. An unreadable session is anonymous.
- ``require_user()`` raises 401, or 503 (``Retry-After``) when the request
  carried a session the store could not read: never treat anyone as logged in
  without a valid server-side session.
- ``log_out()`` and ``log_out_everywhere()`` bump the user's
  ``session_version`` in the database first (durable, survives any Redis
  restore; see docs/decisions.md: logging out ends every session of the user),
  then destroy the current session. With the session unreadable they answer 503:
  never a success while the session stays valid.
"""

from __future__ import annotations

from flask import g, session

from errors import ApiError
from middleware import sessions
from middleware.rate_limits import failed_logins
from models import User
from services import users

LOGIN_FAILED = "Invalid email or password"


def _unavailable(retry_after: int) -> ApiError:
    return ApiError(
        503,
        "Sign-in is temporarily unavailable; please try again shortly.",
        headers={"Retry-After": str(retry_after)},
    )


def log_in(email: str, password: str) -> User:
    if sessions.store_unavailable():
        raise _unavailable(sessions.retry_after())
    account = users.normalise_email(email)
    throttle = failed_logins()
    wait = throttle.retry_after(account)
    if wait:
        raise ApiError(
            429,
            "Too many failed logins for this account; try again later.",
            headers={"Retry-After": str(wait)},
        )
    user = users.authenticate(account, password)
    if user is None:
        throttle.record_failure(account)
        raise ApiError(401, LOGIN_FAILED)
    throttle.forget(account)
    try:
        sessions.start_session({"uid": user.id, "sv": user.session_version})
    except sessions.SessionStoreUnavailable as exc:
        raise _unavailable(exc.retry_after) from None
    g.current_user = user
    return user


def current_user() -> User | None:
    if "current_user" in g:
        user: User | None = g.current_user
        return user
    user = None
    # A request without a stored session has nothing to read: leaving the
    # session unaccessed keeps anonymous responses shareable.
    if not sessions.session_unreadable() and sessions.has_stored_data():
        uid = session.get("uid")
        candidate = users.get_user(uid) if isinstance(uid, int) else None
        if candidate is not None and candidate.session_version == session.get("sv"):
            user = candidate
        else:
            session.clear()  # revoked or unknown: forget it here too
    g.current_user = user
    return user


def current_user_id() -> int | None:
    """The logged-in user's id, or None (the response cache's per-user scope)."""
    user = current_user()
    return user.id if user is not None else None


def require_user() -> User:
    user = current_user()
    if user is None:
        if sessions.session_unreadable():
            raise _unavailable(sessions.retry_after())
        raise ApiError(401, "Authentication required.")
    return user


def require_admin() -> User:
    user = require_user()
    if not user.is_admin:
        raise ApiError(403, "Administrator access required.")
    return user


def _end(user: User | None) -> None:
    if user is not None:
        users.bump_session_version(user)
    try:
        sessions.end_session()
    except sessions.SessionStoreUnavailable as exc:  # pragma: no cover - checked before
        raise _unavailable(exc.retry_after) from None
    g.current_user = None


def log_out() -> None:
    """End this session (and, by the version bump, the user's others). Idempotent."""
    if sessions.session_unreadable():
        raise _unavailable(sessions.retry_after())
    _end(current_user())


def log_out_everywhere() -> None:
    _end(require_user())
