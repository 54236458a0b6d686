"""The Flask path's response hooks: store fills, mark every answer, release locks.

Order of events for one request on the Flask path:

1. Flask runs every ``before_request`` hook, then the view's decorators; the cache is
   consulted where ``@cache_response`` sits (``flask_view.py``), which leaves its
   decision (``Pending``) in ``flask.g``.
2. ``after_request`` here (registered by ``init_app``; Flask runs ``after_request``
   hooks in reverse registration order, and before Flask-Session saves the session):
   on a fill, serve the kept stale entry if the view failed with a 5xx inside the
   entry's stale-if-error window; otherwise store the response if the policy allows,
   with the route's tags, and add the caching headers (304 when ``If-None-Match``
   matches); see ``flask_fill``. Every answer gets ``X-Cache`` and ``Cache-Status``: a
   request that never reached the lookup (a hook or a decorator answered first: a 429,
   a 403) says ``detail=not-looked-up``. A request the fast path counted with the rate
   limiter before handing it on gets the limiter's headers from that count
   (``charge.COUNTED``).
3. ``teardown_request``: a fill whose view raised past every handler is abandoned (its
   lock released) so the next request can fill.

``filling()`` tells code running inside the view (the value cache) that this request
holds a fill lock for its response, which already serialises it; ``add_tags()`` lets it
add tags its data revealed to the entry being filled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import g, request
from werkzeug.wrappers import Response

from . import headers as h
from . import policy
from .charge import COUNTED
from .core import BYPASS, FILL
from .flask_fill import finish_fill
from .flask_request import G_KEY, Pending, abandon
from .safety import fast_hit_safe

if TYPE_CHECKING:
    from .state import CacheState


def filling() -> bool:
    """Whether this request is computing its response under the response cache's
    fill lock (single-flight across processes for its cache name)."""
    pending: Pending | None = g.get(G_KEY)
    return pending is not None and pending.outcome == FILL and not pending.done


def add_tags(*tags: str) -> None:
    """Record tags this request's answer depends on beyond its route's declared ones,
    known only once the view read its data (the posts on a list page). Stored with the
    entry this request fills; nothing happens when it fills none."""
    pending: Pending | None = g.get(G_KEY)
    if pending is not None and pending.outcome == FILL and not pending.done:
        pending.extra_tags.extend(tags)


def _never_looked_up(state: CacheState) -> Pending:
    """Why a request that did not reach the lookup was not cached."""
    endpoint = request.endpoint
    if state.routes.get(endpoint) is not None:
        return Pending(None, BYPASS, detail="not-looked-up")
    fwd = "bypass" if request.method in policy.CACHEABLE_METHODS else "method"
    return Pending(None, BYPASS, fwd, state.routes.reason(endpoint))


@fast_hit_safe("the fast path stores nothing and marks its own answers")
def after_request(state: CacheState, response: Response) -> Response:
    found: Pending | None = g.get(G_KEY)
    pending = found if found is not None else _never_looked_up(state)
    counted = request.environ.get(COUNTED)
    if counted:
        for name, value in counted:
            response.headers[name] = value
    try:
        if pending.outcome == FILL:
            return finish_fill(state, pending, response)
        if pending.outcome == BYPASS:
            _mark_bypass(state, pending, response)
        return response
    finally:
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


@fast_hit_safe("releases a fill lock; a fast hit takes none")
def teardown_request(state: CacheState, exc: Any = None) -> None:
    pending: Pending | None = g.pop(G_KEY, None)
    if pending is not None and pending.outcome == FILL and not pending.done:
        abandon(state, pending)
