"""The Flask path's lookup: inside the view, after every hook and outer decorator.

``cached_view(view, declaration)`` is what ``@cache_response`` returns: a
``functools.wraps`` wrapper whose call is the first moment the cache is consulted on
the Flask path. By then Flask has run every ``url_value_preprocessor`` and
``before_request`` hook of the app and of the route's blueprints (whatever their
registration order: Flask-Limiter's check, guards, authentication), and every
decorator above ``@cache_response`` has run too. So a request any of them refused
never reaches the cache.

Per call, in order:

1. No extension on this app, or ``RESPONSE_CACHE_ENABLED`` false: the view runs.
2. The route table entry of ``request.endpoint`` must be this declaration's (a view
   called from another view runs uncached); a request that already looked up
   (nested call) runs the view.
3. The runtime toggle, the request policy (``policy.request_bypass_reason``), the
   scope (the user id, for ``scope="user"``) and the name (``keys.cache_name``), then
   ``core.lookup``, starting from the fast path's own read when it handed one over
   (``PEEKED``: the entry is not read twice).
4. HIT or STALE: the stored answer is returned as the view's result (Flask's
   ``after_request`` hooks still run on it: rate-limit headers, session saving).
   FILL: the view runs; ``flask_hooks.after_request`` stores its response. BYPASS:
   the view runs.

The pending decision lives in ``flask.g`` for ``flask_hooks``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.wrappers import Response

from . import headers as h
from . import policy
from .core import BYPASS, FILL, HIT
from .declarations import DECLARATION_ATTR, Declaration
from .flask_request import (
    G_KEY,
    SERVED,
    Pending,
    has_credential_cookie,
    record_ttl,
    served_response,
)
from .keys import cache_name, canonical_query, query_is_oversized
from .routes import CachedRoute
from .state import EXTENSION_KEY, CacheState

log = logging.getLogger("flask_response_cache")

F = TypeVar("F", bound=Callable[..., Any])

# Set by the fast path when it read a public route's entry and found nothing to serve:
# ``(name, Lookup)``.
PEEKED = "flask_response_cache.peeked"


def cached_view(view: F, declaration: Declaration) -> F:
    """``view`` wrapped so the cache answers at this point of its decorator chain."""

    @functools.wraps(view)
    def cached(*args: Any, **kwargs: Any) -> Any:
        state: CacheState | None = current_app.extensions.get(EXTENSION_KEY)
        if state is not None and state.settings.enabled and g.get(G_KEY) is None:
            answer = look_up(state, declaration)
            if answer is not None:
                return answer
        return current_app.ensure_sync(view)(*args, **kwargs)

    setattr(cached, DECLARATION_ATTR, declaration)
    return cached  # type: ignore[return-value]


def _probe() -> None:  # pragma: no cover - never called
    return None


# The code every wrapper above shares: how the fast path finds the cache in a view's chain.
CACHED_VIEW_CODE = cached_view(_probe, Declaration()).__code__


def look_up(state: CacheState, declaration: Declaration) -> Response | None:
    """Decide this request (rules 2-4); the stored answer, or None to run the view."""
    route = state.routes.get(request.endpoint)
    if route is None or route.source is not declaration:
        return None
    pending = _begin(state, route)
    setattr(g, G_KEY, pending)
    if pending.outcome == BYPASS:
        state.counters.add(route.endpoint, "bypass")
    return _serve(state, pending) if pending.outcome == SERVED else None


def _request_bypass(state: CacheState, route: CachedRoute) -> Pending | None:
    """A bypass when this request may not use the route's entries, else None."""
    environ = request.environ
    has_authorization = "HTTP_AUTHORIZATION" in environ
    has_cookie = has_credential_cookie(state.settings.credential_cookies)
    reason = policy.request_bypass_reason(
        method=request.method,
        scope=route.scope,
        has_body=policy.has_request_body(
            environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
        ),
        has_authorization=has_authorization,
        has_credential_cookie=has_cookie,
        oversized_query=query_is_oversized(request.query_string),
    )
    if reason is None:
        return None
    fwd = "method" if reason == policy.METHOD else "bypass"
    return Pending(route, BYPASS, fwd, reason, credentialed=has_authorization or has_cookie)


def request_name(route: CachedRoute, scope: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``(name, canonical query)`` of this request's entry under ``scope``."""
    query = canonical_query(request.args.items(multi=True), route.query)
    name = cache_name(
        endpoint=route.endpoint,
        method=request.method,
        view_args=request.view_args or {},
        query=query,
        vary=[(header, request.headers.get(header)) for header in route.vary],
        scope=scope,
        host=request.host if route.key_host else None,
    )
    return name, query


def _begin(state: CacheState, route: CachedRoute) -> Pending:
    enabled, ttl = state.effective(route, state.toggles.get(route.endpoint))
    if not enabled:
        return Pending(route, BYPASS, detail=policy.DISABLED)
    bypass = _request_bypass(state, route)
    if bypass is not None:
        return bypass
    user_id = state.user_id() if route.scope == policy.USER else None
    scope = policy.scope_key(route.scope, user_id)
    if scope is None:
        return Pending(route, BYPASS, detail=policy.ANONYMOUS)
    name, query = request_name(route, scope)
    peek = request.environ.get(PEEKED)
    found = state.core.lookup(
        name,
        allow_stale=route.stale_while_revalidate > 0,
        peeked=peek[1] if peek is not None and peek[0] == name else None,
    )
    if found.outcome == BYPASS:
        state.counters.add(route.endpoint, "error")
        return Pending(route, BYPASS, detail=found.detail or policy.UNAVAILABLE)
    outcome = FILL if found.outcome == FILL else SERVED
    return Pending(route, outcome, lookup=found, ttl=ttl, user_id=user_id, query=query)


def _serve(state: CacheState, pending: Pending) -> Response | None:
    """Answer from the found entry; None (and a bypass) if it cannot be decoded."""
    assert pending.route is not None and pending.lookup is not None
    fresh = pending.lookup.outcome == HIT
    status = h.cache_status(
        state.settings.identifier,
        hit=True,
        ttl=record_ttl(state, pending),
        detail=(pending.lookup.detail or None) if fresh else "stale-while-revalidate",
    )
    answer = served_response(state, pending, h.HIT if fresh else h.STALE, status)
    if answer is None:
        pending.outcome, pending.detail = BYPASS, "corrupt-entry"
        state.counters.add(pending.route.endpoint, "error")
        return None
    state.counters.add(pending.route.endpoint, "hit" if fresh else "stale")
    return answer
