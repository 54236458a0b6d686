"""Read-only views of single entries, for operators (``flask cache inspect|get|ttl-of``).

Contract: nothing here writes, locks or scans; every key read is built under
the cache's own namespace and current epoch (``Layout.entry``), so these
commands can never read or touch session or rate-limit keys, whatever the
operator types. ``describe`` reports what a stored record says: size,
status, age, time left fresh and how long it may still be served stale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask import Flask, request

from . import policy
from .entry import HttpEntry
from .flask_view import request_name
from .record import Record
from .state import CacheState
from .storage import StorageUnavailable


@dataclass(frozen=True, slots=True)
class EntryView:
    name: str
    key: str
    found: bool
    size: int = 0
    age: float = 0.0
    fresh_for: float = 0.0
    stale_until: float = 0.0
    status: int | None = None
    etag: str | None = None
    preview: str = ""


def _epoch(state: CacheState) -> str:
    epoch = state.core.trusted_epoch()
    if epoch is None:
        raise StorageUnavailable("the cache is not trusted right now (store or journal down)")
    return epoch


def describe(state: CacheState, name: str) -> EntryView:
    """What the store holds under ``name`` (an ``http:...`` name or a service key)."""
    epoch = _epoch(state)
    key = state.core.storage.layout.entry(epoch, name)
    raw = state.core.storage.get(key)
    record = Record.decode(raw) if raw is not None else None
    if record is None:
        return EntryView(name, key, False)
    now = state.core.clock()
    age = record.age(now)
    kept = record.ttl + max(record.stale_while_revalidate, record.stale_if_error)
    view = EntryView(
        name,
        key,
        True,
        size=len(raw or b""),
        age=age,
        fresh_for=max(0.0, record.ttl - age),
        stale_until=max(0.0, kept - age),
        preview=record.payload[:200].decode(errors="replace"),
    )
    entry = HttpEntry.decode(record.payload, record.flags) if name.startswith("http:") else None
    if entry is None:
        return view
    preview = f"{entry.content_type} {len(entry.body)} bytes stored"
    return replace(view, status=entry.status, etag=entry.etag, preview=preview)


def name_for_url(app: Flask, state: CacheState, url: str) -> str | None:
    """The entry name an anonymous GET of ``url`` would use; None if not cacheable."""
    with app.test_request_context(url, method="GET"):
        rule = request.url_rule
        route = state.routes.get(rule.endpoint) if rule is not None else None
        if route is None or route.scope != policy.PUBLIC:
            return None
        return request_name(route, policy.PUBLIC)[0]
