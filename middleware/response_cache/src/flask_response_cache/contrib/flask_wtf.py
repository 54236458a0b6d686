"""Flask-WTF's CSRF hook, covered for the fast path (read on Flask-WTF 1.3).

``CSRFProtect.init_app`` registers one ``before_request`` hook, ``csrf_protect``, a closure
over the app and the extension. Left undeclared it would keep every public route of an app
with ``CSRFProtect`` on the Flask path, and a user cannot declare it: it is reachable only
through ``app.before_request_funcs``. ``cover(app)`` returns a ``Covers`` function (the
reason for that closure of ``app.extensions["csrf"]``, None for anything else), or None
(nothing covered) when:

- the app has no ``CSRFProtect``;
- the installed Flask-WTF is not a 1.3 release: the hook was read on 1.3.0. Another
  version keeps its routes on the Flask path, named in the start-up warning, until someone
  reads it and widens ``VERIFIED``;
- ``WTF_CSRF_METHODS`` includes ``GET`` or ``HEAD``.

Why skipping it is safe then: for a method outside ``WTF_CSRF_METHODS`` the hook's check
(``CSRFProtect.protect``) returns before reading anything, so for the GET and HEAD requests
the fast path answers it changes nothing.

Flask-WTF itself is never imported here: only its installed version is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from ..safety import unwrap_hook
from ._releases import installed_release_in

VERIFIED = ("1.3.",)  # Flask-WTF releases whose hook was read
REASON = (
    "Flask-WTF's CSRF check returns at once for a method outside WTF_CSRF_METHODS "
    "(read on Flask-WTF 1.3)"
)
HOOK_QUALNAME = "CSRFProtect.init_app.<locals>.csrf_protect"
SAFE_METHODS = ("GET", "HEAD")


def cover(app: Flask) -> Callable[[Any], str | None] | None:
    """What this adapter stands in for in ``app`` (see the module docstring), or None."""
    csrf = app.extensions.get("csrf")
    if (
        csrf is None
        or type(csrf).__module__ != "flask_wtf.csrf"
        or not installed_release_in("flask-wtf", VERIFIED)
    ):
        return None
    methods = app.config.get("WTF_CSRF_METHODS") or ()
    if any(method in methods for method in SAFE_METHODS):
        return None

    def covers(obj: Any) -> str | None:
        function, instance = unwrap_hook(obj)
        return REASON if instance is None and _is_the_hook_of(function, csrf) else None

    return covers


def _is_the_hook_of(function: Any, csrf: object) -> bool:
    """``function`` is the ``csrf_protect`` closure that ``csrf.init_app`` made."""
    if getattr(function, "__module__", None) != "flask_wtf.csrf":
        return False
    if getattr(function, "__qualname__", None) != HOOK_QUALNAME:
        return False
    cells = getattr(function, "__closure__", None) or ()
    return any(_cell_value(cell) is csrf for cell in cells)


def _cell_value(cell: Any) -> object:
    try:
        value: object = cell.cell_contents
        return value
    except ValueError:  # an empty cell
        return None
