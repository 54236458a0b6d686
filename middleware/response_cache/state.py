"""Per-app state of the extension, kept in ``app.extensions["response_cache"]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from middleware.response_cache.core import CacheCore
from middleware.response_cache.routes import CachedRoute, RouteTable
from middleware.response_cache.settings import Settings
from middleware.response_cache.stats import Counters
from middleware.response_cache.toggles import RouteToggle, ToggleView

EXTENSION_KEY = "response_cache"


@dataclass(slots=True)
class CacheState:
    settings: Settings
    core: CacheCore
    routes: RouteTable
    toggles: ToggleView
    counters: Counters
    # Invalidates tags for operators; raises StorageUnavailable if it could not.
    invalidate_tags: Callable[[Sequence[str]], object]
    # The WSGI fast hit path (fast_path.FastPath) when installed, else None.
    fast_path: Any = None

    def effective(self, route: CachedRoute, toggle: RouteToggle | None) -> tuple[bool, float]:
        """``(enabled, ttl)`` of ``route`` once runtime toggles are applied."""
        if toggle is None:
            return route.enabled, route.ttl
        return toggle.enabled, float(toggle.ttl or route.ttl)


def state_for(app: Flask | None = None) -> CacheState:
    """The extension's state for ``app`` (default: the current app)."""
    target = app if app is not None else current_app
    state: CacheState = target.extensions[EXTENSION_KEY]
    return state
