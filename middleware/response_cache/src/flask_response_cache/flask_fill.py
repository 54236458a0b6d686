"""After the view ran on a fill: serve stale on error, or store the response.

Order (see ``flask_hooks``): a 5xx inside the kept entry's stale-if-error
window is replaced by that entry (``X-Cache: STALE``, ``Cache-Status`` with
``fwd-status`` and ``detail=stale-if-error``); otherwise the policy decides
whether to store; stored or not, the response leaves with ``X-Cache: MISS``
and a ``Cache-Status`` saying why it was (not) stored; a stored one also
gets its ``ETag``, ``Cache-Control`` and ``Vary``, and becomes a 304 when
``If-None-Match`` matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, request, session
from werkzeug.wrappers import Response

from . import headers as h
from . import policy
from .entry import HttpEntry
from .flask_request import (
    Pending,
    abandon,
    has_credential_cookie,
    record_ttl,
    served_response,
)
from .replies import validator_headers
from .routes import CachedRoute
from .storage import OK

if TYPE_CHECKING:
    from .state import CacheState


def finish_fill(state: CacheState, pending: Pending, response: Response) -> Response:
    assert pending.route is not None and pending.lookup is not None
    route = pending.route
    fwd = "stale" if pending.lookup.record is not None else "uri-miss"
    state.counters.add(route.endpoint, "miss")
    if response.status_code >= 500:
        stale = _stale_if_error(state, pending, response.status_code, fwd)
        if stale is not None:
            return stale
    refusal = _refusal(state, route, response)
    if refusal is not None:
        abandon(state, pending)
        response.headers["X-Cache"] = h.MISS
        response.headers["Cache-Status"] = h.cache_status(
            state.settings.identifier, fwd=fwd, fwd_status=response.status_code, detail=refusal
        )
        return response
    return _store(state, pending, response, fwd)


def _refusal(state: CacheState, route: CachedRoute, response: Response) -> str | None:
    streamed = response.is_streamed or response.direct_passthrough
    return policy.response_refusal_reason(
        status=response.status_code,
        headers=list(response.headers.items()),
        scope=route.scope,
        allowed_vary=route.allowed_vary,
        streamed=streamed,
        body_size=0 if streamed else len(response.get_data()),
        max_body_bytes=state.settings.max_body_bytes,
        session_modified=bool(getattr(session, "modified", False)),
        session_read_with_cookie=bool(getattr(session, "accessed", False))
        and route.scope == policy.PUBLIC
        and has_credential_cookie(state.settings.credential_cookies),
    )


def _store(state: CacheState, pending: Pending, response: Response, fwd: str) -> Response:
    assert pending.route is not None and pending.lookup is not None
    route, fill = pending.route, pending.lookup.fill
    assert fill is not None
    entry = HttpEntry.build(
        response.status_code,
        policy.storable_headers(response.headers.items()),
        response.get_data(),
        state.settings.compress_min_bytes,
    )
    tags = _tags(route, pending)
    if tags is None:
        abandon(state, pending)
        result = "tags"
    else:
        payload, flags = entry.encode()
        result = state.core.complete(fill, payload, route.freshness(pending.ttl), tags, flags)
    stored = result == OK
    state.counters.add(route.endpoint, "store" if stored else "error")
    for name, value in validator_headers(route, entry.etag, int(pending.ttl)):
        response.headers[name] = value
    response.headers["X-Cache"] = h.MISS
    response.headers["Cache-Status"] = h.cache_status(
        state.settings.identifier, fwd=fwd, stored=stored, detail=None if stored else result
    )
    if policy.etag_matches(request.headers.get("If-None-Match"), entry.etag):
        response.status_code = 304
        response.set_data(b"")
    return response


def _tags(route: CachedRoute, pending: Pending) -> list[str] | None:
    first: dict[str, str] = {}
    for name, value in pending.query:
        first.setdefault(name, value)
    try:
        declared = route.tags_for(request.view_args or {}, first, pending.user_id)
        return list(dict.fromkeys([*declared, *pending.extra_tags]))
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        current_app.logger.error("cache tags of %s failed: %s", route.endpoint, exc)
        return None


def _stale_if_error(
    state: CacheState, pending: Pending, status_code: int, fwd: str
) -> Response | None:
    assert pending.route is not None and pending.lookup is not None
    record = pending.lookup.record
    if record is None or not record.may_serve_on_error(state.core.clock()):
        return None
    abandon(state, pending)
    status = h.cache_status(
        state.settings.identifier,
        fwd=fwd,
        fwd_status=status_code,
        ttl=record_ttl(state, pending),
        detail="stale-if-error",
    )
    answer = served_response(state, pending, h.STALE, status)
    if answer is not None:
        state.counters.add(pending.route.endpoint, "stale")
    return answer
