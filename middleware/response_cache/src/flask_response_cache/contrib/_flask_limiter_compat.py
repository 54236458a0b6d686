"""Every read of Flask-Limiter's internals, in one place, pinned to the versions tested.

Flask-Limiter has no public API for "which limits would this request be counted
against, under which keys, with which headers", which is what counting a hit below
Flask needs. Each function here names one private detail it relies on; the package's
test ``test_flask_limiter_compat.py`` checks every one of them against the installed
Flask-Limiter, so an upgrade that changes any of them fails that test instead of
miscounting. ``SUPPORTED`` is the major version range those tests passed on; outside
it the adapter declines (hits go through Flask, where Flask-Limiter counts them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import flask_limiter
from flask import Flask
from flask_limiter import HeaderNames, Limiter
from flask_limiter._limits import RouteLimit
from flask_limiter.util import get_qualified_name

SUPPORTED = ((4, 0), (5, 0))  # [lowest, highest) major.minor
# The attribute @limiter.limit sets on the wrappers it returns (a weak proxy of the limiter).
LIMITER_MARK = "__wrapper-limiter-instance"


def marked_by(layer: Any, limiter: Limiter) -> bool:
    """Whether ``layer`` carries ``limiter``'s mark (compared as Flask-Limiter does: with
    ``==``, since the mark is a ``weakref.proxy``)."""
    mark = getattr(layer, LIMITER_MARK, None)
    return mark is not None and bool(mark == limiter)


def version_supported() -> bool:
    parts = tuple(int(p) for p in flask_limiter.__version__.split(".")[:2] if p.isdigit())
    return SUPPORTED[0] <= parts < SUPPORTED[1]


def request_hooks(limiter: Limiter) -> tuple[Any, ...]:
    """The functions Flask-Limiter registers as request hooks (``init_app``): its
    before_request check, its header injector (a ``partial`` over the instance) and
    its context release; as ``(function, instance)`` pairs."""
    return (
        (Limiter._check_request_limit, limiter),
        (Limiter._Limiter__inject_headers, limiter),  # type: ignore[attr-defined]
        (Limiter._Limiter__release_context, limiter),  # type: ignore[attr-defined]
    )


def key_prefix(limiter: Limiter) -> str:
    return str(limiter._key_prefix or "")


def request_filters(limiter: Limiter) -> list[Callable[[], bool]]:
    return list(limiter._request_filters)


def storage_dead(limiter: Limiter) -> bool:
    """Flask-Limiter's own in-memory fallback is engaged."""
    return bool(limiter._storage_dead)


def has_meta_limits(limiter: Limiter) -> bool:
    return bool(limiter._meta_limits)


def headers_enabled(limiter: Limiter) -> bool:
    return bool(limiter._headers_enabled)


def header_mapping(limiter: Limiter) -> Mapping[HeaderNames, str]:
    return dict(limiter._header_mapping)


def retry_after_format(limiter: Limiter) -> str | None:
    """``"http-date"`` or None (delta seconds)."""
    value: str | None = limiter._retry_after
    return value


def limits_for(
    limiter: Limiter, app: Flask, endpoint: str, evaluate_decorated: bool
) -> list[list[Any]]:
    """The ``RuntimeLimit`` groups Flask-Limiter evaluates for a request to ``endpoint``:
    its ``before_request`` check, then (``evaluate_decorated``: a ``@limiter.limit``
    layer wraps the view) the decorator's own check; each group as its
    ``__filter_limits`` would return it (defaults seen by an earlier group dropped)."""
    manager = limiter.limit_manager
    view = app.view_functions.get(endpoint)
    name = get_qualified_name(view) if view is not None else ""
    blueprint = endpoint.rpartition(".")[0] or None  # Flask's request.blueprint
    marked = name in limiter._marked_for_limiting or manager.has_hints(endpoint)
    groups = []
    seen: set[Any] = set()
    with app.app_context():  # limit providers may read current_app.config
        for in_middleware in (True, False) if evaluate_decorated else (True,):
            defaults, decorated = manager.resolve_limits(
                app, endpoint, blueprint, name, in_middleware, marked
            )
            fresh = [limit for limit in defaults if limit not in seen]
            seen.update(defaults)
            groups.append([*fresh, *decorated])
    return groups


def identifies_by_endpoint(limiter: Limiter) -> bool:
    """Whether requests are identified by ``request.endpoint`` (Flask-Limiter's default
    ``request_identifier``, a lambda defined in its own module) and not by a callable of
    the app's."""
    identifier = limiter._request_identifier
    code = getattr(identifier, "__code__", None)
    return code is not None and code.co_filename == Limiter.init_app.__code__.co_filename


def is_limit_layer(layer: Any) -> bool:
    """A wrapper made by ``@limiter.limit`` itself (its ``__inner``), not a layer above
    it that copied its mark through ``functools.wraps``."""
    code = getattr(layer, "__code__", None)
    return (
        code is not None and code.co_name == "__inner" and code.co_filename == _LIMITS_MODULE_FILE
    )


_LIMITS_MODULE_FILE = RouteLimit.__call__.__code__.co_filename
