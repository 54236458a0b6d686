"""Per-endpoint counters: hit, miss, stale, bypass, store, error.

Each process counts in memory (a lock and a dict add per request) and adds
its counts to the storage's ``{rc}:stats`` hash (fields ``<endpoint>:<counter>``)
at most once per ``interval`` seconds, on the request path, by the injected
monotonic clock. A failed flush keeps the counts for the next one. Readers
(the admin endpoint, ``flask cache stats``) see the flushed totals of every
process sharing the storage plus this process's unflushed counts.

- ``hit``: answered from a fresh entry (304s included);
- ``stale``: answered from a stale entry (while revalidating, or on error);
- ``miss``: the view ran for a cacheable request;
- ``store``: a miss whose response was stored;
- ``bypass``: the route is cacheable but this request could not use the cache;
- ``error``: the storage failed (the request bypassed or was not stored);
- ``skipped``: (values only) the loader ran directly inside a response fill.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from .storage import Storage, StorageUnavailable

COUNTERS = ("hit", "miss", "stale", "bypass", "store", "error")
# Counted by the value cache only; reported when non-zero.
EXTRA_COUNTERS = ("skipped",)


class Counters:
    def __init__(
        self, storage: Storage, monotonic: Callable[[], float], interval: float = 1.0
    ) -> None:
        self.storage = storage
        self.interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._next_flush = monotonic() + interval

    def add(self, endpoint: str, counter: str) -> None:
        with self._lock:
            self._pending[f"{endpoint}:{counter}"] += 1

    def maybe_flush(self) -> None:
        if self._monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> bool:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._next_flush = self._monotonic() + self.interval
        if not pending:
            return True
        try:
            self.storage.hash_incr(self.storage.layout.stats, dict(pending))
        except StorageUnavailable:
            with self._lock:
                self._pending.update(pending)
            return False
        return True

    def read(self) -> dict[str, dict[str, int]]:
        """Totals by endpoint; raises ``StorageUnavailable`` when the store is down."""
        totals: Counter[str] = Counter()
        for field, raw in self.storage.hash_get_all(self.storage.layout.stats).items():
            totals[field] += int(raw)
        with self._lock:
            totals.update(self._pending)
        by_endpoint: dict[str, dict[str, int]] = {}
        for field, value in totals.items():
            endpoint, _, counter = field.rpartition(":")
            if counter in COUNTERS or counter in EXTRA_COUNTERS:
                by_endpoint.setdefault(endpoint, dict.fromkeys(COUNTERS, 0))[counter] = value
        return by_endpoint
