"""Per-request pieces shared by the Flask hooks: the pending decision and served answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app, request
from werkzeug.wrappers import Response

from . import policy
from .core import Lookup
from .entry import HttpEntry
from .keys import QueryPairs
from .replies import remaining_seconds, served_reply
from .routes import CachedRoute

if TYPE_CHECKING:
    from .state import CacheState

SERVED = "served"
# Where the pending decision of this request lives in ``flask.g``.
G_KEY = "_response_cache"


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


def has_credential_cookie(names: tuple[str, ...]) -> bool:
    """Whether the request carries any of the credential cookies (``settings.py``)."""
    raw: str = request.environ.get("HTTP_COOKIE", "")
    if not raw:
        return False
    return any(name in raw and name in request.cookies for name in names)


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
