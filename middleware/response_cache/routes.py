"""Per-route declarations and their resolution into each app's route table.

Declaring (decorators record the view in a registry and return it unchanged,
the way Flask-Limiter's ``exempt`` does, so they compose with flask-smorest's
decorators in any position, innermost or outermost)::

    @bp.route("/posts/<int:post_id>")
    @bp.arguments(...)
    @cache_response(ttl=300, scope="public", tags=["post:{post_id}"])
    def get_post(post_id): ...

- ``ttl``, ``stale_while_revalidate``, ``stale_if_error``: seconds.
- ``scope``: ``"public"`` (one entry for everyone anonymous) or ``"user"``
  (one entry per logged-in user, from the app's ``USER_ID_LOADER``).
- ``tags``: a list of templates formatted with the view arguments and
  ``user_id`` (``"post:{post_id}"``, ``"user:{user_id}"``), or a callable
  ``tags(view_args, query) -> list[str]`` (``query``: the canonical query).
- ``vary``: request headers whose values select a variant (keyed).
- ``query``: the query parameters the view reads (an allow-list: every other
  parameter is ignored by the key). Without it, every non-tracking
  parameter is keyed.
- ``key_host``: key on the request host (only for views that reflect it).

``@no_cache`` marks a view as never cached (undeclared views never are either;
the mark documents intent). ``cache_blueprint_defaults(bp, ttl=..., ...)``
sets defaults for the declared views of one blueprint. Precedence, lowest
first: extension defaults, blueprint defaults, the declaration, then
``RESPONSE_CACHE_OVERRIDES[endpoint]`` (config), then runtime toggles.

Views are registered by ``module.qualname``; the table maps each endpoint of
an app to its view's declaration when first needed (blueprints are usually
registered after ``init_app``). A declaration that cannot be honoured (a tag
template naming an unknown argument) leaves its route uncached and logs an
error: caching fails closed.
"""

from __future__ import annotations

import logging
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from flask import Flask

from middleware.response_cache.headers import vary_names
from middleware.response_cache.policy import NO_CACHE, NOT_DECLARED, SCOPES, USER
from middleware.response_cache.record import Freshness

log = logging.getLogger("response_cache")

TagsFn = Callable[[Mapping[str, Any], Mapping[str, str]], Sequence[str]]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Declaration:
    """What a decorator (or blueprint default) said; None means "not said"."""

    ttl: float | None = None
    scope: str | None = None
    tags: tuple[str, ...] | TagsFn | None = None
    vary: tuple[str, ...] | None = None
    query: tuple[str, ...] | None = None
    stale_while_revalidate: float | None = None
    stale_if_error: float | None = None
    key_host: bool | None = None
    cacheable: bool = True

    def __post_init__(self) -> None:
        if self.scope is not None and self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.ttl is not None and self.ttl <= 0:
            raise ValueError("ttl must be > 0")
        for window in (self.stale_while_revalidate, self.stale_if_error):
            if window is not None and window < 0:
                raise ValueError("stale windows must be >= 0")
        if self.tags is not None and not callable(self.tags):
            for template in self.tags:
                template_fields(template)  # raises on a malformed template

    def over(self, base: Declaration) -> Declaration:
        """This declaration with ``base`` filling what it left unsaid."""
        values = {
            f.name: getattr(self, f.name)
            if getattr(self, f.name) is not None
            else getattr(base, f.name)
            for f in fields(self)
            if f.name != "cacheable"
        }
        return Declaration(**values, cacheable=self.cacheable)


_declarations: dict[str, Declaration] = {}
_blueprint_defaults: dict[str, Declaration] = {}


def view_key(view: Callable[..., Any]) -> str:
    return f"{view.__module__}.{view.__qualname__}"


def _tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise TypeError("give a list of names, not one string")
    return tuple(values)


def cache_response(
    ttl: float | None = None,
    *,
    scope: str | None = None,
    tags: Sequence[str] | TagsFn | None = None,
    vary: Sequence[str] | None = None,
    query: Sequence[str] | None = None,
    stale_while_revalidate: float | None = None,
    stale_if_error: float | None = None,
    key_host: bool | None = None,
) -> Callable[[F], F]:
    """Declare a view cacheable; the view itself is returned unchanged."""
    declaration = Declaration(
        ttl=ttl,
        scope=scope,
        tags=tags if callable(tags) else _tuple(tags),
        vary=_tuple(vary),
        query=_tuple(query),
        stale_while_revalidate=stale_while_revalidate,
        stale_if_error=stale_if_error,
        key_host=key_host,
    )

    def decorator(view: F) -> F:
        _declarations[view_key(view)] = declaration
        return view

    return decorator


def no_cache(view: F) -> F:
    """Mark a view as never cached; the view itself is returned unchanged."""
    _declarations[view_key(view)] = Declaration(cacheable=False)
    return view


def cache_blueprint_defaults(blueprint: Any, **defaults: Any) -> None:
    """Defaults for every *declared* view of ``blueprint`` (undeclared stay uncached)."""
    if "tags" in defaults and not callable(defaults["tags"]):
        defaults["tags"] = _tuple(defaults["tags"])
    for name in ("vary", "query"):
        if name in defaults:
            defaults[name] = _tuple(defaults[name])
    _blueprint_defaults[blueprint.name] = Declaration(**defaults)


def template_fields(template: str) -> set[str]:
    names = set()
    for _, field_name, _, _ in string.Formatter().parse(template):
        if field_name is not None:
            if not field_name.isidentifier():
                raise ValueError(f"tag template {template!r}: use plain {{name}} fields")
            names.add(field_name)
    return names


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


class RouteTable:
    """The cacheable routes of one app, resolved on first use."""

    def __init__(self, app: Flask, defaults: RouteDefaults) -> None:
        self._app = app
        self._defaults = defaults
        self._lock = threading.Lock()
        self._routes: dict[str, CachedRoute] | None = None
        self._uncached: dict[str, str] = {}

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

    def _build(self) -> dict[str, CachedRoute]:
        with self._lock:
            if self._routes is not None:
                return self._routes
            routes: dict[str, CachedRoute] = {}
            for rule in self._app.url_map.iter_rules():
                if rule.endpoint in routes or rule.endpoint in self._uncached:
                    continue
                route = self._resolve(rule.endpoint, rule.rule, set(rule.arguments))
                if route is not None:
                    routes[rule.endpoint] = route
            for endpoint in self._defaults.overrides:
                if endpoint not in routes:
                    log.warning("RESPONSE_CACHE_OVERRIDES names %r, not a cached route", endpoint)
            self._routes = routes
            return routes

    def _resolve(self, endpoint: str, rule: str, arguments: set[str]) -> CachedRoute | None:
        view = self._app.view_functions.get(endpoint)
        declaration = _declarations.get(view_key(view)) if view is not None else None
        if declaration is None:
            return None
        if not declaration.cacheable:
            self._uncached[endpoint] = NO_CACHE
            return None
        declaration = declaration.over(_blueprint_default_for(endpoint))
        try:
            return _route_from(endpoint, rule, arguments, declaration, self._defaults)
        except (ValueError, TypeError) as exc:
            log.error("route %s is not cached: %s", endpoint, exc)
            self._uncached[endpoint] = "misconfigured"
            return None


def _blueprint_default_for(endpoint: str) -> Declaration:
    """The defaults of the innermost blueprint that owns ``endpoint``."""
    prefix = endpoint
    while "." in prefix:
        prefix = prefix.rsplit(".", 1)[0]
        if prefix in _blueprint_defaults:
            return _blueprint_defaults[prefix]
    return Declaration()


_OVERRIDE_FIELDS = {"ttl", "stale_while_revalidate", "stale_if_error", "enabled"}


def _route_from(
    endpoint: str, rule: str, arguments: set[str], declared: Declaration, defaults: RouteDefaults
) -> CachedRoute:
    scope = declared.scope or "public"
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
        vary_header=", ".join(names),
        allowed_vary=frozenset(name.lower() for name in names),
    )
    configured = defaults.overrides.get(endpoint, {})
    override = {k: v for k, v in configured.items() if k in _OVERRIDE_FIELDS}
    return replace(route, **override) if override else route
