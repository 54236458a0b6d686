"""Flask-Login's request hook, covered for the fast path (read on Flask-Login 0.6).

``LoginManager.init_app`` registers one ``after_request`` hook, ``_update_remember_cookie``.
Left undeclared it would keep every public route of an app with Flask-Login on the Flask
path. ``cover(app, credential_cookies)`` returns a ``Covers`` function (the reason for that
hook bound to ``app.login_manager``, None for anything else), or None (nothing covered) when:

- the app has no ``login_manager``;
- the installed Flask-Login is not a 0.6 release: the hook was read on 0.6.3. Another
  version keeps its routes on the Flask path, named in the start-up warning, until someone
  reads it and widens ``VERIFIED``;
- the cache's credential cookies leave out the app's session cookie or Flask-Login's
  remember cookie.

Why skipping it is safe then: the fast path answers only requests that carry none of the
credential cookies, so the hook sees an empty session. It then changes nothing. With
``REMEMBER_COOKIE_REFRESH_EACH_REQUEST`` it marks and unmarks the empty session, so a Flask
path answer also expires a session cookie the client does not hold: a fast hit leaves out
only that ``Set-Cookie``.

Flask-Login itself is never imported here: only its installed version is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask

from ..safety import unwrap_hook
from ._releases import installed_release_in

VERIFIED = ("0.6.",)  # Flask-Login releases whose hook was read
REASON = (
    "Flask-Login's remember-cookie update does nothing for a request without the session "
    "and remember cookies (read on Flask-Login 0.6)"
)
DEFAULT_REMEMBER_COOKIE = "remember_token"  # flask_login.config.COOKIE_NAME


def cover(app: Flask, credential_cookies: Sequence[str]) -> Callable[[Any], str | None] | None:
    """What this adapter stands in for in ``app`` (see the module docstring), or None."""
    manager = getattr(app, "login_manager", None)
    if manager is None or not installed_release_in("flask-login", VERIFIED):
        return None
    needed = (
        app.config.get("SESSION_COOKIE_NAME") or "session",
        app.config.get("REMEMBER_COOKIE_NAME") or DEFAULT_REMEMBER_COOKIE,
    )
    if not all(name in credential_cookies for name in needed):
        return None
    hook = getattr(type(manager), "_update_remember_cookie", None)
    if hook is None:
        return None

    def covers(obj: Any) -> str | None:
        function, instance = unwrap_hook(obj)
        return REASON if function is hook and instance is manager else None

    return covers
