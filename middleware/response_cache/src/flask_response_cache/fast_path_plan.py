"""Which routes the fast path may serve, and what it must know about each (rules 2 and 6).

A route is served below Flask only when all of these hold:

- it is declared ``scope="public"`` (per-user answers need Flask's session);
- every Flask request hook that would run for it (``url_value_preprocessors``,
  ``before_request``, ``after_request``, ``teardown_request``, of the app and of each
  blueprint the endpoint belongs to) is declared safe to skip
  (``safety.skip_reason``), or is covered by the rate-limit ``Charge`` standing in for
  it (``charge.covers(hook)``) or by a known extension's adapter
  (``contrib.flask_login``, ``contrib.flask_wtf``), all through ``CacheState.hook_covers``;
- every decorator layer between the registered view function and the cache's wrapper
  (the decorators above ``@cache_response``, found through ``__wrapped__``) is
  declared safe, or covered by the charge (Flask-Limiter's ``@limiter.limit``); a
  layer that hides what it wraps (no ``functools.wraps``) or a class-based view keeps
  the route on the Flask path.

``Planner.plans()`` decides every endpoint once, on the first request (when the URL
map is complete), and logs one warning per public route it keeps on the Flask path,
naming what nobody declared. Those routes stay fully cached: their hits are answered
through Flask, after every hook and outer decorator ran.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

from .flask_view import CACHED_VIEW_CODE
from .policy import PUBLIC
from .routes import CachedRoute, RouteTable
from .safety import describe, skip_reason

log = logging.getLogger("flask_response_cache")

Covers = Callable[[Any], "str | None"]

_HOOK_KINDS = (
    ("url_value_preprocessor", "url_value_preprocessors"),
    ("before_request", "before_request_funcs"),
    ("after_request", "after_request_funcs"),
    ("teardown_request", "teardown_request_funcs"),
)


def environ_key(header: str) -> str:
    """Where ``request.headers.get(header)`` reads from (werkzeug's EnvironHeaders)."""
    key = header.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What the fast path needs about one servable endpoint, computed once."""

    route: CachedRoute
    vary: tuple[tuple[str, str], ...]  # (header, environ key)
    allow_stale: bool


class Planner:
    def __init__(self, app: Flask, routes: RouteTable, covers: Callable[[], Covers]) -> None:
        self.app = app
        self.routes = routes
        self._covers = covers
        self._lock = threading.Lock()
        self._plans: dict[str, Plan | None] | None = None

    def plan(self, endpoint: str) -> Plan | None:
        plans = self._plans if self._plans is not None else self.plans()
        return plans.get(endpoint)

    def plans(self) -> Mapping[str, Plan | None]:
        with self._lock:
            if self._plans is None:
                covers = self._covers()
                self._plans = {
                    route.endpoint: self._plan_for(route, covers)
                    for route in self.routes.all()
                    if route.scope == PUBLIC
                }
            return self._plans

    def _plan_for(self, route: CachedRoute, covers: Covers) -> Plan | None:
        undeclared = [
            f"{kind} {describe(hook)}"
            for kind, hook in self._hooks(route.endpoint)
            if not (skip_reason(hook) or covers(hook))
        ]
        layers = self._layers(route.endpoint)
        if layers is None:
            undeclared.append("a view layer without functools.wraps, or a class-based view")
        else:
            undeclared += [
                f"decorator {describe(layer, layer=True)}"
                for layer in layers
                if not (skip_reason(layer) or covers(layer))
            ]
        if undeclared:
            log.warning(
                "flask-response-cache: hits of %s are answered through Flask, after every"
                " request hook and decorator has run; the fast path below Flask would skip"
                " these, which nobody declared safe with @fast_hit_safe: %s",
                route.endpoint,
                "; ".join(undeclared),
            )
            return None
        vary = tuple((header, environ_key(header)) for header in route.vary)
        return Plan(route, vary, route.stale_while_revalidate > 0)

    def _hooks(self, endpoint: str) -> Iterator[tuple[str, Any]]:
        names: list[str | None] = [None]
        blueprint = endpoint.rpartition(".")[0]
        while blueprint:  # Flask's request.blueprints: "a.b" is registered under "a"
            names.append(blueprint)
            blueprint = blueprint.rpartition(".")[0]
        for kind, attribute in _HOOK_KINDS:
            registry: Mapping[str | None, list[Any]] = getattr(self.app, attribute)
            for name in names:
                for hook in registry.get(name, ()):
                    yield kind, hook

    def _layers(self, endpoint: str) -> list[Any] | None:
        """The decorator layers above the cache's wrapper, outermost first; None when the
        wrapper cannot be reached."""
        layer = self.app.view_functions.get(endpoint)
        layers: list[Any] = []
        while layer is not None and getattr(layer, "__code__", None) is not CACHED_VIEW_CODE:
            layers.append(layer)
            layer = getattr(layer, "__wrapped__", None)
        return layers if layer is not None else None
