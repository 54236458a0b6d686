"""The value cache: cache-aside for JSON values, on the same core as the response cache.

Contract (``ResponseCache.get_or_set`` and friends):

- ``get_or_set(key, loader, ttl, tags=...)`` returns the cached value for ``key``, or
  calls ``loader()`` and caches its result, with the core's single-flight (one caller
  across processes computes, the others wait for it), stale serving
  (``stale_while_revalidate``, ``stale_if_error``) and stale-set protection. One core,
  two faces: invalidating a tag clears HTTP entries and values alike.
- ``None`` results are returned but never cached.
- ``tags`` may be a function of the loaded value (tags the data reveals, such as the
  items on a page); the stale-set guard covers them like declared ones. Every value
  also carries the tag ``key:<key>``, so ``invalidate_keys`` is a durable tag
  invalidation.
- Inside a request that is computing a response-cache entry under its fill lock
  (``filling_response()``), the loader is called directly, counted ``skipped``: that
  response is already single-flighted, and its value entries almost always missed too.
- Values are serialized by ``serializer`` (``dumps(value) -> bytes``,
  ``loads(bytes) -> value``; JSON by default, orjson when it is installed), prefixed
  with a format marker: a value of another format reads as a miss, so a format change
  needs no flush. Never pickle.
- With the store down or untrusted, every call goes to the loader (counted
  ``bypass``). Keys may not start with ``http:`` (the response cache's names).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from flask import has_request_context

from .core import BYPASS, HIT, STALE, CacheCore
from .flask_hooks import filling
from .record import Freshness
from .stats import Counters

T = TypeVar("T")

COUNTER_NAME = "values"
_FORMAT = b"j1"


class Serializer(Protocol):
    def dumps(self, value: Any) -> bytes: ...
    def loads(self, raw: bytes) -> Any: ...


class JsonSerializer:
    """Strict JSON: orjson when installed (about 10x faster), else the standard library."""

    def __init__(self) -> None:
        try:
            import orjson
        except ImportError:
            self._dumps: Callable[[Any], bytes] = lambda value: json.dumps(
                value, separators=(",", ":"), allow_nan=False
            ).encode()
            self._loads: Callable[[bytes], Any] = json.loads
        else:
            self._dumps, self._loads = orjson.dumps, orjson.loads

    def dumps(self, value: Any) -> bytes:
        return self._dumps(value)

    def loads(self, raw: bytes) -> Any:
        return self._loads(raw)


def key_tag(key: str) -> str:
    """The tag every value of ``key`` carries."""
    return f"key:{key}"


class ValueCache:
    def __init__(
        self, core: CacheCore, counters: Counters, serializer: Serializer | None = None
    ) -> None:
        self.core = core
        self.counters = counters
        self.serializer = serializer or JsonSerializer()

    def _count(self, outcome: str) -> None:
        self.counters.add(COUNTER_NAME, outcome)

    def _decode(self, payload: bytes) -> tuple[bool, Any]:
        if not payload.startswith(_FORMAT):
            return False, None
        return True, self.serializer.loads(payload[len(_FORMAT) :])

    def get_or_set(
        self,
        key: str,
        loader: Callable[[], T],
        ttl: float,
        *,
        tags: Sequence[str] | Callable[[T], Sequence[str]] = (),
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
    ) -> T:
        if key.startswith("http:"):
            raise ValueError("value keys may not start with 'http:' (response names)")
        freshness = Freshness(ttl, stale_while_revalidate, stale_if_error)
        if has_request_context() and filling():
            self._count("skipped")
            return loader()
        found = self.core.lookup(key)
        if found.outcome in (HIT, STALE) and found.record is not None:
            ok, value = self._decode(found.record.payload)
            if ok:
                self._count("stale" if found.outcome == STALE else "hit")
                return value
        if found.fill is None:
            self._count("bypass" if found.outcome == BYPASS else "miss")
            return loader()
        self._count("miss")
        try:
            value = loader()
        except Exception:
            self.core.abandon(found.fill)
            stale = found.record
            if stale is not None and stale.may_serve_on_error(self.core.clock()):
                ok, old = self._decode(stale.payload)
                if ok:
                    self._count("stale")
                    return old
            raise
        if value is None:  # never cached: the next call computes again
            self.core.abandon(found.fill)
            return value  # type: ignore[return-value]
        depends = tags(value) if callable(tags) else tags
        payload = _FORMAT + self.serializer.dumps(value)
        if self.core.complete(found.fill, payload, freshness, [*depends, key_tag(key)]) == "ok":
            self._count("store")
        return value
