"""Answers built from stored entries, as plain ``(status, headers, body)`` values.

No Flask here: the Flask hooks wrap a ``Reply`` in a response object, and the
WSGI fast path (``fast_path.py``) hands the same values to ``start_response``.

- ``served_reply``: a hit or a stale answer. Replays the entry's status and
  headers exactly, adds ``ETag``, ``Age``, ``Cache-Control`` (remaining
  freshness), ``Vary``, ``X-Cache`` and ``Cache-Status``; sends the stored
  gzip bytes with ``Content-Encoding: gzip`` to clients that accept gzip;
  answers ``304`` (no body, validators and caching headers kept) when
  ``If-None-Match`` matches the entry's ETag.
- ``validator_headers``: the ``ETag``, ``Cache-Control`` and ``Vary`` a
  freshly stored response carries on its way out (a miss).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .entry import HttpEntry
from .headers import cache_control
from .policy import etag_matches
from .record import Record
from .routes import CachedRoute


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def validator_headers(route: CachedRoute, etag: str, remaining: int) -> list[tuple[str, str]]:
    control = cache_control(
        route.scope, remaining, route.stale_while_revalidate, route.stale_if_error
    )
    return [("ETag", etag), ("Cache-Control", control), ("Vary", route.vary_header)]


def remaining_seconds(record: Record, now: float) -> int:
    """Whole seconds of freshness left; negative once stale (RFC 9211 ``ttl``)."""
    return math.floor(record.ttl - record.age(now))


def served_reply(
    entry: HttpEntry,
    record: Record,
    route: CachedRoute,
    *,
    now: float,
    gzip_ok: bool,
    if_none_match: str | None,
    x_cache: str,
    cache_status: str,
) -> Reply:
    """The answer for a request served from ``entry``; ``ValueError`` if it is corrupt."""
    headers = list(entry.headers)
    headers += validator_headers(route, entry.etag, remaining_seconds(record, now))
    headers += [
        ("Age", str(int(record.age(now)))),
        ("X-Cache", x_cache),
        ("Cache-Status", cache_status),
    ]
    if etag_matches(if_none_match, entry.etag):
        return Reply(304, headers, b"")
    body, is_gzip = entry.body_for(gzip_ok)
    if is_gzip:
        headers.append(("Content-Encoding", "gzip"))
    return Reply(entry.status, headers, body)
