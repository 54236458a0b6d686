"""Per-app state of the extension, kept in ``app.extensions["response_cache"]``.

The extension object keeps no app (Flask's extension rule); everything one app needs at
request time is here: settings, the core, the route table, toggles, counters, the
user id loader and the rate-limit charge (resolved on first use, so a Flask-Limiter
registered after the cache is found too), and what stands in for the hooks a fast hit
skips (``hook_covers``: the charge, ``contrib.flask_login`` and ``contrib.flask_wtf``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from .charge import Charge, no_limiter
from .contrib import flask_login, flask_wtf
from .core import CacheCore
from .routes import CachedRoute, RouteTable
from .settings import Settings
from .stats import Counters
from .toggles import RouteToggle, ToggleView
from .values import ValueCache

EXTENSION_KEY = "response_cache"

log = logging.getLogger("flask_response_cache")

UserIdLoader = Callable[[], object | None]
# Builds the charge for an app when none was given (the Flask-Limiter adapter).
ChargeFactory = Callable[[Flask], Charge | None]


@dataclass(slots=True)
class CacheState:
    app: Flask
    settings: Settings
    core: CacheCore
    routes: RouteTable
    toggles: ToggleView
    counters: Counters
    values: ValueCache
    user_id_loader: UserIdLoader | None = None
    charge_given: Charge | None = None
    charge_factory: ChargeFactory | None = None
    # The WSGI fast hit path (fast_path.FastPath) when installed, else None.
    fast_path: Any = None
    _charge: Charge | None = None
    _charge_lock: threading.Lock = field(default_factory=threading.Lock)

    def effective(self, route: CachedRoute, toggle: RouteToggle | None) -> tuple[bool, float]:
        """``(enabled, ttl)`` of ``route`` once runtime toggles are applied."""
        if toggle is None:
            return route.enabled, route.ttl
        return toggle.enabled, float(toggle.ttl or route.ttl)

    def user_id(self) -> object | None:
        """The current user's id for ``scope="user"`` routes (None: anonymous)."""
        if self.user_id_loader is not None:
            return self.user_id_loader()
        return _flask_login_user_id()

    def charge(self) -> Charge:
        """The rate-limit charge of fast-path hits (see ``charge.py``)."""
        charge = self._charge
        if charge is None:
            with self._charge_lock:
                if self._charge is None:
                    built = self.charge_given
                    if built is None and self.charge_factory is not None:
                        built = self.charge_factory(self.app)
                    attach = getattr(built, "attach", None)
                    if attach is not None:
                        attach(self.app, getattr(self.core.storage, "client", None))
                    self._charge = built or no_limiter
                charge = self._charge
        return charge

    def hook_covers(self) -> Callable[[Any], str | None]:
        """Who stands in for the hooks a fast hit skips: the charge (Flask-Limiter's hooks
        and layers) and the adapters of known extensions' hooks (Flask-Login's, Flask-WTF's)."""
        found = [
            getattr(self.charge(), "covers", None),
            flask_login.cover(self.app, self.settings.credential_cookies),
            flask_wtf.cover(self.app),
        ]
        covers = [cover for cover in found if cover is not None]

        def any_cover(obj: Any) -> str | None:
            for cover in covers:
                reason = cover(obj)
                if reason:
                    return reason
            return None

        return any_cover


def _flask_login_user_id() -> object | None:
    """Flask-Login's current user id, when the app uses Flask-Login."""
    if getattr(current_app, "login_manager", None) is None:
        return None
    from flask_login import current_user

    if not current_user.is_authenticated:
        return None
    user_id: object | None = current_user.get_id()
    return user_id


def state_for(app: Flask | None = None) -> CacheState:
    """The extension's state for ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    state: CacheState = target.extensions[EXTENSION_KEY]
    return state
