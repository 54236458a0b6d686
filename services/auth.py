"""Login state kept in the server-side session.

Contract:
- ``login(user)`` stores the user id and the user's ``session_version``, then
  regenerates the session id (data first: Flask-Session's ``regenerate`` does
  nothing on an empty session), so a cookie chosen before login is never the
  one after it (session fixation).
- ``current_user()`` returns the logged-in user or None. A session whose
  version no longer matches the database (log out everywhere, or a session
  resurrected by a Redis restore) is cleared and treated as anonymous.
- ``logout()`` clears the session; Flask-Session deletes it from the store.
"""

from __future__ import annotations

import time

from flask import current_app, g, session

from errors import ApiError
from models import User
from services.users import get_user


def login(user: User) -> None:
    session.clear()
    session["uid"] = user.id
    session["sv"] = user.session_version
    session["auth_at"] = int(time.time())
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]
    g.current_user = user


def logout() -> None:
    session.clear()
    g.current_user = None


def current_user() -> User | None:
    if "current_user" in g:
        user: User | None = g.current_user
        return user
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        candidate = get_user(uid)
        if candidate is not None and candidate.session_version == session.get("sv"):
            user = candidate
        else:
            session.clear()
    g.current_user = user
    return user


def require_user() -> User:
    user = current_user()
    if user is None:
        raise ApiError(401, "Authentication required.")
    return user


def require_admin() -> User:
    user = require_user()
    if not user.is_admin:
        raise ApiError(403, "Administrator access required.")
    return user
