"""Single HTTP requests to a peer on 127.0.0.1, for checks rather than load.

Contract: ``fetch`` sends one request on a new connection and returns a ``Reply`` (status,
lower-cased headers, body, seconds elapsed), or raises ``OSError`` / ``http.client``'s errors.
``cache_state(reply, kind)`` reads how a cache peer says it answered: ``"HIT"``, ``"MISS"`` or
``None`` when the peer said nothing (``X-Cache``, else RFC 9211 ``Cache-Status``;
Flask-Caching's ``hit_cache: True``).
``normalise(doc)`` makes two JSON documents comparable across peers: datetimes become aware
UTC ``datetime`` values, whatever their spelling.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(
    port: int,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    lowered = {name.lower(): value for name, value in response.getheaders()}
    return Reply(response.status, lowered, data, elapsed)


def cache_state(reply: Reply, kind: str) -> str | None:
    if kind == "flask-caching":
        return "HIT" if reply.headers.get("hit_cache", "").lower() == "true" else "MISS"
    value = reply.headers.get("x-cache")
    if value is None:
        status = reply.headers.get("cache-status", "").lower()  # RFC 9211
        if not status:
            return None
        return "HIT" if "; hit" in status or ";hit" in status else "MISS"
    return value.strip().split()[0].upper() if value.strip() else None


def _as_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def normalise(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {key: normalise(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [normalise(value) for value in doc]
    if isinstance(doc, str) and len(doc) >= 19 and doc[4] == "-" and doc[10] in "T ":
        parsed = _as_datetime(doc)
        return parsed if parsed is not None else doc
    return doc


def session_cookie(reply: Reply) -> str | None:
    """``name=value`` of the first cookie the reply sets (the session), without attributes."""
    raw = reply.headers.get("set-cookie")
    if not raw:
        return None
    return raw.split(";", 1)[0].strip() or None
