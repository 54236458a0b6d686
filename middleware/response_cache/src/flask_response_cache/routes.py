"""Each app's cacheable routes, resolved from the declarations on its view functions.

Contract:

- ``RouteTable(app, defaults)`` maps each endpoint of one app to a ``CachedRoute``:
  the view's declaration (``declarations.py``) over its blueprint's defaults, with
  ``RESPONSE_CACHE_OVERRIDES[endpoint]`` on top.
- ``check(endpoint)`` resolves one endpoint now and raises
  ``ResponseCacheConfigError`` naming the route when its declaration cannot be
  honoured: no scope, a tag template naming an unknown view argument, a
  ``scope="user"`` route while the extension has no user id loader. The extension
  checks every route as it is registered, so such mistakes stop the app at start-up.
- The full table is built on first use (the first request: blueprints are usually
  registered after ``init_app``, and Flask refuses new routes after it). A route
  that fails there too (declared after it was registered) is left uncached and
  logged: caching fails closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask

from .declarations import (
    Declaration,
    TagsFn,
    blueprint_default_for,
    declaration_of,
    declared_above_its_route,
    template_fields,
)
from .headers import vary_names
from .policy import NO_CACHE, NOT_DECLARED, PUBLIC, USER
from .record import Freshness
from .settings import ResponseCacheConfigError

log = logging.getLogger("flask_response_cache")


@dataclass(frozen=True, slots=True)
class CachedRoute:
    """One cacheable endpoint of one app, with everything resolved."""

    endpoint: str
    rule: str
    scope: str
    ttl: float
    stale_while_revalidate: float
    stale_if_error: float
    vary: tuple[str, ...]
    query: frozenset[str] | None
    tags: tuple[str, ...] | TagsFn
    key_host: bool
    source: Declaration
    enabled: bool = True
    vary_header: str = ""
    allowed_vary: frozenset[str] = frozenset()

    def freshness(self, ttl: float | None = None) -> Freshness:
        return Freshness(ttl or self.ttl, self.stale_while_revalidate, self.stale_if_error)

    def tags_for(
        self, view_args: Mapping[str, Any], query: Mapping[str, str], user_id: object | None
    ) -> list[str]:
        if callable(self.tags):
            return list(self.tags(view_args, query))
        values = {**view_args, "user_id": user_id}
        return [template.format(**values) for template in self.tags]


@dataclass(frozen=True, slots=True)
class RouteDefaults:
    ttl: float
    overrides: Mapping[str, Mapping[str, Any]]
    has_user_loader: Callable[[], bool] = lambda: True


class RouteTable:
    """The cacheable routes of one app, resolved on first use."""

    def __init__(self, app: Flask, defaults: RouteDefaults) -> None:
        self._app = app
        self._defaults = defaults
        self._lock = threading.Lock()
        self._routes: dict[str, CachedRoute] | None = None
        self._uncached: dict[str, str] = {}

    @property
    def ready(self) -> bool:
        return self._routes is not None

    def get(self, endpoint: str | None) -> CachedRoute | None:
        routes = self._routes if self._routes is not None else self._build()
        return routes.get(endpoint) if endpoint is not None else None

    def reason(self, endpoint: str | None) -> str:
        """Why ``endpoint`` is not cached (for Cache-Status)."""
        if self._routes is None:
            self._build()
        return self._uncached.get(endpoint or "", NOT_DECLARED)

    def all(self) -> list[CachedRoute]:
        routes = self._routes if self._routes is not None else self._build()
        return sorted(routes.values(), key=lambda route: route.endpoint)

    def check(self, endpoint: str) -> None:
        """Resolve ``endpoint``'s declaration now; ``ResponseCacheConfigError`` if bad."""
        for rule in self._app.url_map.iter_rules(endpoint):
            self._resolve(rule.endpoint, rule.rule, set(rule.arguments))
            return

    def _build(self) -> dict[str, CachedRoute]:
        with self._lock:
            if self._routes is not None:
                return self._routes
            routes: dict[str, CachedRoute] = {}
            for rule in self._app.url_map.iter_rules():
                if rule.endpoint in routes or rule.endpoint in self._uncached:
                    continue
                try:
                    route = self._resolve(rule.endpoint, rule.rule, set(rule.arguments))
                except ResponseCacheConfigError as exc:
                    log.error("route %s is not cached: %s", rule.endpoint, exc)
                    self._uncached[rule.endpoint] = "misconfigured"
                    continue
                if route is not None:
                    routes[rule.endpoint] = route
            for endpoint in self._defaults.overrides:
                if endpoint not in routes:
                    log.warning("RESPONSE_CACHE_OVERRIDES names %r, not a cached route", endpoint)
            self._routes = routes
            return routes

    def _resolve(self, endpoint: str, rule: str, arguments: set[str]) -> CachedRoute | None:
        view = self._app.view_functions.get(endpoint)
        declaration = declaration_of(view) if view is not None else None
        if declaration is None:
            if view is not None and declared_above_its_route(view):
                log.error(
                    "route %s (%s) is not cached: @cache_response sits above the route"
                    " decorator, so Flask registered the view before it was wrapped; put"
                    " @cache_response below it",
                    endpoint,
                    rule,
                )
            return None
        if not declaration.cacheable:
            self._uncached[endpoint] = NO_CACHE
            return None
        merged = declaration.over(blueprint_default_for(endpoint))
        try:
            return _route_from(endpoint, rule, arguments, merged, declaration, self._defaults)
        except (ValueError, TypeError) as exc:
            raise ResponseCacheConfigError(f"route {endpoint} ({rule}): {exc}") from None


_OVERRIDE_FIELDS = {"ttl", "stale_while_revalidate", "stale_if_error", "enabled"}


def _route_from(
    endpoint: str,
    rule: str,
    arguments: set[str],
    declared: Declaration,
    source: Declaration,
    defaults: RouteDefaults,
) -> CachedRoute:
    scope = declared.scope
    if scope is None:
        raise ValueError("@cache_response needs scope='public' or scope='user'")
    if scope == USER and not defaults.has_user_loader():
        raise ValueError(
            "scope='user' needs a user id loader: ResponseCache(user_id=...) or "
            "RESPONSE_CACHE_USER_ID_LOADER"
        )
    tags: tuple[str, ...] | TagsFn = declared.tags if declared.tags is not None else ()
    if not callable(tags):
        known = arguments | ({"user_id"} if scope == USER else set())
        for template in tags:
            unknown = template_fields(template) - known
            if unknown:
                raise ValueError(f"tag {template!r} names unknown {sorted(unknown)}")
    vary = tuple(declared.vary or ())
    names = vary_names(vary)
    route = CachedRoute(
        endpoint=endpoint,
        rule=rule,
        scope=scope,
        ttl=declared.ttl or defaults.ttl,
        stale_while_revalidate=declared.stale_while_revalidate or 0.0,
        stale_if_error=declared.stale_if_error or 0.0,
        vary=vary,
        query=frozenset(declared.query) if declared.query is not None else None,
        tags=tags,
        key_host=bool(declared.key_host),
        source=source,
        vary_header=", ".join(names),
        allowed_vary=frozenset(name.lower() for name in names),
    )
    configured = defaults.overrides.get(endpoint, {})
    override = {k: v for k, v in configured.items() if k in _OVERRIDE_FIELDS}
    return replace(route, **override) if override else route


def is_public(route: CachedRoute | None) -> bool:
    return route is not None and route.scope == PUBLIC
