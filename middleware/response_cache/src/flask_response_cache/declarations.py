"""Per-route declarations: ``@cache_response``, ``@no_cache``, blueprint defaults.

Declaring::

    @bp.route("/posts/<int:post_id>")
    @require_api_key                      # runs before every answer, hits included
    @cache_response(ttl=300, scope="public", tags=["post:{post_id}"])
    def get_post(post_id): ...

``@cache_response`` wraps the view: the cache is consulted where the decorator sits,
so every ``before_request`` hook (app and blueprints, whatever their registration
order) and every decorator *above* it runs before a hit is served, the way
Flask-Caching's ``@cache.cached`` behaves. Put it closest to the function; a
decorator below it runs on misses only. ``@limiter.limit`` below it would let hits
escape the limit, so that placement is refused.

- ``ttl`` (alias ``timeout``), ``stale_while_revalidate``, ``stale_if_error``: seconds.
- ``scope`` (required, here or in the blueprint's defaults): ``"public"`` (one entry
  for every anonymous client) or ``"user"`` (one entry per logged-in user, from the
  extension's user id loader).
- ``tags``: templates formatted with the view arguments and ``user_id``
  (``"post:{post_id}"``, ``"user:{user_id}"``), or a callable
  ``tags(view_args, query) -> list[str]`` (``query``: the canonical query).
- ``vary``: request headers whose values select a variant (keyed).
- ``query``: the query parameters the view reads (an allow-list: every other
  parameter is ignored by the key). Without it, every non-tracking parameter is keyed.
- ``key_host``: key on the request host (only for views that reflect it).

A single string is accepted where a list is expected (``tags="posts"``).
``@no_cache`` marks a view as never cached (undeclared views never are either; the
mark documents intent). ``cache_blueprint_defaults(bp, ttl=..., ...)`` sets defaults
for the declared views of one blueprint. Precedence, lowest first: extension
defaults, blueprint defaults, the declaration, ``RESPONSE_CACHE_OVERRIDES[endpoint]``
(config), then runtime toggles.

The declaration travels on the wrapper (and, through ``functools.wraps``, on every
layer above it), so the route table finds it from the registered view function.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from .policy import SCOPES
from .settings import ResponseCacheConfigError

TagsFn = Callable[[Mapping[str, Any], Mapping[str, str]], Sequence[str]]
F = TypeVar("F", bound=Callable[..., Any])

DECLARATION_ATTR = "__response_cache_declaration__"
# Flask-Limiter marks the wrappers its @limiter.limit returns with this attribute.
LIMITER_MARK = "__wrapper-limiter-instance"


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
            raise ResponseCacheConfigError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.ttl is not None and not self.ttl > 0:
            raise ResponseCacheConfigError("ttl must be > 0")
        for window in (self.stale_while_revalidate, self.stale_if_error):
            if window is not None and window < 0:
                raise ResponseCacheConfigError("stale windows must be >= 0")
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


_blueprint_defaults: dict[str, Declaration] = {}
# ``module.qualname`` of every function ``@cache_response`` wrapped: a registered view
# with one of these names but no declaration had the decorator applied above its route.
_declared_names: set[str] = set()


def _names(values: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def template_fields(template: str) -> set[str]:
    names = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ResponseCacheConfigError(f"tag template {template!r}: {exc}") from None
    for _, field_name, _, _ in parsed:
        if field_name is not None:
            if not field_name.isidentifier():
                raise ResponseCacheConfigError(
                    f"tag template {template!r}: use plain {{name}} fields"
                )
            names.add(field_name)
    return names


def cache_response(
    ttl: float | None = None,
    *,
    scope: str | None = None,
    tags: Sequence[str] | str | TagsFn | None = None,
    vary: Sequence[str] | str | None = None,
    query: Sequence[str] | str | None = None,
    stale_while_revalidate: float | None = None,
    stale_if_error: float | None = None,
    key_host: bool | None = None,
    timeout: float | None = None,
) -> Callable[[F], F]:
    """Declare a view cacheable; the cache answers where this decorator sits."""
    if timeout is not None and ttl is not None:
        raise ResponseCacheConfigError("give ttl or its alias timeout, not both")
    declaration = Declaration(
        ttl=ttl if ttl is not None else timeout,
        scope=scope,
        tags=tags if callable(tags) else _names(tags),
        vary=_names(vary),
        query=_names(query),
        stale_while_revalidate=stale_while_revalidate,
        stale_if_error=stale_if_error,
        key_host=key_host,
    )

    def decorator(view: F) -> F:
        from .flask_view import cached_view  # the Flask side imports this module

        _refuse_misplacement(view)
        _declared_names.add(qualified_name(view))
        return cached_view(view, declaration)

    return decorator


def qualified_name(view: Any) -> str:
    return f"{getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', view)}"


def declared_above_its_route(view: Any) -> bool:
    """A registered ``view`` without a declaration whose function ``@cache_response``
    wrapped anyway: the decorator sat above the route decorator, so Flask registered
    the function before it was wrapped."""
    return declaration_of(view) is None and qualified_name(view) in _declared_names


def _refuse_misplacement(view: Callable[..., Any]) -> None:
    name = qualified_name(view)
    if getattr(view, DECLARATION_ATTR, None) is not None:
        raise ResponseCacheConfigError(f"{name} is declared twice (@cache_response/@no_cache)")
    if getattr(view, LIMITER_MARK, None) is not None:
        raise ResponseCacheConfigError(
            f"{name}: @limiter.limit sits below @cache_response, so cache hits would escape "
            "the limit; put @cache_response below it (closest to the function)"
        )


def no_cache(view: F) -> F:
    """Mark a view as never cached; the view itself is returned unchanged."""
    _refuse_misplacement(view)
    setattr(view, DECLARATION_ATTR, Declaration(cacheable=False))
    return view


def declaration_of(view: Any) -> Declaration | None:
    """The declaration a registered view carries (class-based views: their ``get``)."""
    found = getattr(view, DECLARATION_ATTR, None)
    if found is None:
        view_class = getattr(view, "view_class", None)
        found = getattr(getattr(view_class, "get", None), DECLARATION_ATTR, None)
    return found if isinstance(found, Declaration) else None


def cache_blueprint_defaults(blueprint: Any, **defaults: Any) -> None:
    """Defaults for every *declared* view of ``blueprint`` (undeclared stay uncached)."""
    if "timeout" in defaults:
        defaults["ttl"] = defaults.pop("timeout")
    if "tags" in defaults and not callable(defaults["tags"]):
        defaults["tags"] = _names(defaults["tags"])
    for name in ("vary", "query"):
        if name in defaults:
            defaults[name] = _names(defaults[name])
    try:
        _blueprint_defaults[blueprint.name] = Declaration(**defaults)
    except TypeError as exc:
        raise ResponseCacheConfigError(f"cache_blueprint_defaults: {exc}") from None


def blueprint_default_for(endpoint: str) -> Declaration:
    """The defaults of the innermost blueprint that owns ``endpoint``."""
    prefix = endpoint
    while "." in prefix:
        prefix = prefix.rsplit(".", 1)[0]
        if prefix in _blueprint_defaults:
            return _blueprint_defaults[prefix]
    return Declaration()
