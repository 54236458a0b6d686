"""The Flask adapter: request hooks that apply the policy around each view.

Order of events for one request (Flask runs ``before_request`` hooks in
registration order, ``after_request`` hooks in reverse):

1. Flask-Limiter's ``before_request`` (registered first by the app) counts
   the request, so cache hits are rate-limited like any other request.
2. ``before_request`` here: find the route's declaration; apply the runtime
   toggle and the request policy; build the name; ``core.lookup`` (given
   the fast path's own read of the same name, when it found nothing to
   serve: ``PEEKED`` in the environ, so the entry is not read twice).
   HIT or STALE: answer from the entry now (the view never runs).
   FILL: remember the fill and let the view run. BYPASS: let the view run.
3. ``after_request`` here (before the limiter adds its per-client headers,
   and before Flask-Session saves the session): on a fill, serve the kept
   stale entry if the view failed with a 5xx inside the entry's
   stale-if-error window; otherwise store the response if the policy
   allows, with the route's tags, and add the caching headers (304 when
   ``If-None-Match`` matches); see ``flask_fill``. Every answer gets
   ``X-Cache`` and ``Cache-Status``.
4. ``teardown_request``: a fill whose view raised past every handler is
   abandoned (its lock released) so the next request can fill.

``filling()`` tells code running inside the view (the service cache) that this
request holds a fill lock for its response, which already serialises it;
``add_tags()`` lets it add tags its data revealed to the entry being filled.

Everything Flask-specific is in the ``flask_*`` modules; names, policy,
entries and replies are plain functions shared with the WSGI fast path
(``fast_path.py``), which answers hits of public routes before these hooks
ever run; every request it does not answer arrives here unchanged.
"""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.wrappers import Response

from middleware.response_cache import headers as h
from middleware.response_cache import policy
from middleware.response_cache.core import BYPASS, FILL, HIT
from middleware.response_cache.flask_fill import finish_fill
from middleware.response_cache.flask_request import (
    SERVED,
    Pending,
    abandon,
    has_session_cookie,
    record_ttl,
    served_response,
)
from middleware.response_cache.keys import cache_name, canonical_query, query_is_oversized
from middleware.response_cache.routes import CachedRoute
from middleware.response_cache.state import CacheState

_G_KEY = "_response_cache"
# Set by the fast path when it read a public route's entry and found nothing to serve:
# ``(name, Lookup)``.
PEEKED = "response_cache.peeked"


def filling() -> bool:
    """Whether this request is computing its response under the response cache's
    fill lock (single-flight across processes for its cache name)."""
    pending: Pending | None = g.get(_G_KEY)
    return pending is not None and pending.outcome == FILL and not pending.done


def add_tags(*tags: str) -> None:
    """Record tags this request's answer depends on beyond its route's declared ones,
    known only once the view read its data (the posts on a list page). Stored with the
    entry this request fills; nothing happens when it fills none."""
    pending: Pending | None = g.get(_G_KEY)
    if pending is not None and pending.outcome == FILL and not pending.done:
        pending.extra_tags.extend(tags)


def before_request(state: CacheState) -> Response | None:
    route = state.routes.get(request.endpoint)
    if route is None:
        fwd = "bypass" if request.method in policy.CACHEABLE_METHODS else "method"
        setattr(g, _G_KEY, Pending(None, BYPASS, fwd, state.routes.reason(request.endpoint)))
        return None
    pending = _begin(state, route)
    setattr(g, _G_KEY, pending)
    if pending.outcome == BYPASS:
        state.counters.add(route.endpoint, "bypass")
    return _serve(state, pending) if pending.outcome == SERVED else None


def _request_bypass(state: CacheState, route: CachedRoute) -> Pending | None:
    """A bypass when this request may not use the route's entries, else None."""
    environ = request.environ
    has_authorization = "HTTP_AUTHORIZATION" in environ
    has_cookie = has_session_cookie(state.settings.session_cookie_name)
    reason = policy.request_bypass_reason(
        method=request.method,
        scope=route.scope,
        has_body=policy.has_request_body(
            environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
        ),
        has_authorization=has_authorization,
        has_session_cookie=has_cookie,
        oversized_query=query_is_oversized(request.query_string),
    )
    if reason is None:
        return None
    fwd = "method" if reason == policy.METHOD else "bypass"
    return Pending(route, BYPASS, fwd, reason, credentialed=has_authorization or has_cookie)


def _begin(state: CacheState, route: CachedRoute) -> Pending:
    enabled, ttl = state.effective(route, state.toggles.get(route.endpoint))
    if not enabled:
        return Pending(route, BYPASS, detail=policy.DISABLED)
    bypass = _request_bypass(state, route)
    if bypass is not None:
        return bypass
    user_id = None
    if route.scope == policy.USER and state.settings.user_id_loader is not None:
        user_id = state.settings.user_id_loader()
    scope = policy.scope_key(route.scope, user_id)
    if scope is None:
        return Pending(route, BYPASS, detail=policy.ANONYMOUS)
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


def after_request(state: CacheState, response: Response) -> Response:
    pending: Pending | None = g.get(_G_KEY)
    try:
        if pending is None:  # an earlier hook answered (429, 415...): never looked up
            pending = Pending(None, BYPASS, detail="not-looked-up")
        if pending.outcome == FILL:
            return finish_fill(state, pending, response)
        if pending.outcome == BYPASS:
            _mark_bypass(state, pending, response)
        return response
    finally:
        if pending is not None:
            pending.done = True
        state.counters.maybe_flush()


def _mark_bypass(state: CacheState, pending: Pending, response: Response) -> None:
    response.headers["X-Cache"] = h.BYPASS
    response.headers["Cache-Status"] = h.cache_status(
        state.settings.identifier, fwd=pending.fwd, detail=pending.detail or None
    )
    if pending.credentialed and "Cache-Control" not in response.headers:
        # The answer may be personal: keep shared caches downstream from storing it.
        response.headers["Cache-Control"] = "private"


def teardown_request(state: CacheState, exc: Any = None) -> None:
    pending: Pending | None = g.pop(_G_KEY, None)
    if pending is not None and pending.outcome == FILL and not pending.done:
        abandon(state, pending)
