"""The service-level cache: cache-aside for JSON values on the shared core.

Contract:
- ``get_or_set(key, loader, ttl, tags=...)`` returns the cached value for
  ``key`` or calls ``loader()`` and caches its result, with the core's
  single-flight, stale serving and stale-set protection (one core, two faces:
  the response cache uses the same one, so one tag invalidation clears both).
  ``None`` results are returned but never cached. Called while the request
  fills a response-cache entry (``filling_response()``: the response cache
  missed, holds the fill lock for the answer and will store it), it calls the
  loader directly, counted as ``skipped`` (D30). Requests the response cache
  bypasses (logged-in readers, routes switched off) use it as above.
- Values are JSON (orjson), prefixed with a format byte: a value of another
  format reads as a miss, so a format change needs no flush. Never pickle.
- ``tags`` may be a function of the loaded value (tags the data reveals, such as
  the posts on a page); the stale-set guard covers them like declared ones.
  ``depends_on(*tags)`` gives such tags to the response being filled too.
- ``invalidate(*keys)`` and ``invalidate_tags(*tags)`` are durable: they go
  through the journal like a write (each entry carries the tag ``key:<key>``).
- ``invalidate_pattern(pattern)`` is an operator tool: SCAN + UNLINK confined
  to this cache's namespace, bounded by ``limit``, with a dry run; it is not
  journaled (use tags for correctness, patterns for housekeeping).
- Without a core (caching disabled) every call goes straight to the loader.
- Keys follow the recipe's conventions (``posts:list:page=1:limit=20``,
  ``posts:single:42``, ``users:7:posts:page=1:limit=20``) and may not start
  with ``http:`` (the response cache's names).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from flask import current_app

from middleware.response_cache import add_response_tags, filling_response
from middleware.response_cache.core import BYPASS, HIT, STALE, CacheCore
from middleware.response_cache.record import Freshness
from middleware.response_cache.storage import StorageUnavailable
from services import invalidation

T = TypeVar("T")
_FORMAT = b"j1"
_STATS_FLUSH_SECONDS = 1.0


class _Counters:
    """Per-process counters, flushed to the shared stats hash once a second."""

    def __init__(self) -> None:
        self.pending: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.flushed_at = time.monotonic()

    def add(self, name: str, core: CacheCore) -> None:
        with self.lock:
            self.pending[f"service:{name}"] += 1
            if time.monotonic() - self.flushed_at < _STATS_FLUSH_SECONDS:
                return
            batch, self.pending = dict(self.pending), Counter()
            self.flushed_at = time.monotonic()
        try:
            core.storage.hash_incr(core.storage.layout.stats, batch)
        except StorageUnavailable:
            pass  # counters are best effort


_counters = _Counters()


def _core() -> CacheCore | None:
    core: CacheCore | None = current_app.extensions.get("cache_core")
    return core


def _encode(value: Any) -> bytes:
    return _FORMAT + orjson.dumps(value)


def _decode(payload: bytes) -> tuple[bool, Any]:
    if not payload.startswith(_FORMAT):
        return False, None
    return True, orjson.loads(payload[len(_FORMAT) :])


def key_tag(key: str) -> str:
    return f"key:{key}"


def get_or_set(
    key: str,
    loader: Callable[[], T],
    ttl: float,
    tags: Sequence[str] | Callable[[T], Sequence[str]] = (),
    stale_while_revalidate: float = 0.0,
    stale_if_error: float = 0.0,
) -> T:
    if key.startswith("http:"):
        raise ValueError("service cache keys may not start with 'http:'")
    core = _core()
    if core is None:
        return loader()
    if filling_response():
        # The response cache missed this request's answer and holds its fill lock: the
        # entry here almost always missed too (same tags, same lifetimes), so reading
        # and storing it would cost two round trips for nothing (D30).
        _counters.add("skipped", core)
        return loader()
    found = core.lookup(key)
    if found.outcome in (HIT, STALE) and found.record is not None:
        ok, value = _decode(found.record.payload)
        if ok:
            _counters.add("stale" if found.outcome == STALE else "hit", core)
            return value
    if found.fill is None:
        _counters.add("bypass" if found.outcome == BYPASS else "miss", core)
        return loader()
    _counters.add("miss", core)
    try:
        value = loader()
    except Exception:
        core.abandon(found.fill)
        stale = found.record
        if stale is not None and stale.may_serve_on_error(core.clock()):
            ok, old = _decode(stale.payload)
            if ok:
                _counters.add("stale", core)
                return old
        raise
    if value is None:
        core.abandon(found.fill)
    else:
        freshness = Freshness(ttl, stale_while_revalidate, stale_if_error)
        depends = tags(value) if callable(tags) else tags
        core.complete(found.fill, _encode(value), freshness, [*depends, key_tag(key)])
    return value


def depends_on(*tags: str) -> None:
    """Declare that the current request's answer depends on ``tags`` (found in the data it
    read): the response-cache entry this request fills, if any, carries them too."""
    add_response_tags(*tags)


def invalidate(*keys: str) -> None:
    invalidation.invalidate_tags([key_tag(key) for key in keys])


def invalidate_tags(*tags: str) -> None:
    invalidation.invalidate_tags(list(tags))


def invalidate_pattern(pattern: str, limit: int = 10_000, dry_run: bool = False) -> list[str]:
    """Delete (or list, with ``dry_run``) entries whose key matches ``pattern``."""
    core = _core()
    if core is None:
        return []
    epoch = core.trusted_epoch()
    if epoch is None:
        raise StorageUnavailable("cache store unavailable")
    layout = core.storage.layout
    keys = core.storage.scan(layout.entry(epoch, pattern), limit)
    if not dry_run:
        for start in range(0, len(keys), 500):
            core.storage.delete(keys[start : start + 500])
    prefix = layout.entry(epoch, "")
    return [key[len(prefix) :] for key in keys]
