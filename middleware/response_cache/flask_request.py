"""Per-request pieces shared by the Flask hooks: the pending decision and served answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, request
from werkzeug.wrappers import Response

from middleware.response_cache import policy
from middleware.response_cache.core import Lookup
from middleware.response_cache.entry import HttpEntry
from middleware.response_cache.keys import QueryPairs
from middleware.response_cache.replies import remaining_seconds, served_reply
from middleware.response_cache.routes import CachedRoute
from middleware.response_cache.state import CacheState

SERVED = "served"


@dataclass(slots=True)
class Pending:
    """What ``before_request`` decided, for ``after_request`` and teardown."""

    route: CachedRoute | None
    outcome: str  # SERVED | core.FILL | core.BYPASS
    fwd: str = "bypass"
    detail: str = ""
    credentialed: bool = False
    lookup: Lookup | None = None
    ttl: float = 0.0
    user_id: object | None = None
    query: QueryPairs = ()
    done: bool = False
    # Tags the view added (``flask_hooks.add_tags``) to the route's declared ones.
    extra_tags: list[str] = field(default_factory=list)


def has_session_cookie(name: str) -> bool:
    raw: str = request.environ.get("HTTP_COOKIE", "")
    return name in raw and name in request.cookies


def record_ttl(state: CacheState, pending: Pending) -> int:
    """Seconds of freshness left on the found record (negative once stale)."""
    assert pending.lookup is not None and pending.lookup.record is not None
    return remaining_seconds(pending.lookup.record, state.core.clock())


def served_response(
    state: CacheState, pending: Pending, x_cache: str, cache_status: str
) -> Response | None:
    """The answer built from the found record, or None when it cannot be decoded."""
    assert pending.route is not None and pending.lookup is not None
    record = pending.lookup.record
    assert record is not None
    entry = HttpEntry.decode(record.payload, record.flags)
    if entry is None:
        return None
    try:
        reply = served_reply(
            entry,
            record,
            pending.route,
            now=state.core.clock(),
            gzip_ok=policy.accepts_gzip(request.headers.get("Accept-Encoding")),
            if_none_match=request.headers.get("If-None-Match"),
            x_cache=x_cache,
            cache_status=cache_status,
        )
    except ValueError:
        return None
    return current_app.response_class(reply.body, reply.status, reply.headers)


def abandon(state: CacheState, pending: Pending) -> None:
    """Give up the fill (release its lock) so another request can fill."""
    if pending.lookup is not None and pending.lookup.fill is not None:
        state.core.abandon(pending.lookup.fill)
