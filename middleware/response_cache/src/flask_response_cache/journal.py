"""The invalidation journal: what each write invalidated, kept until the store has it.

An invalidation must never be lost because Redis was down when it was issued, and a
store must never be trusted while it lacks one. The cache therefore writes every
invalidation to a journal first, applies it to the store, and marks it applied; a
trust renewal (``trust.py``) replays whatever is still pending before the store is
believed again. Any object with these members is a journal:

- ``durable``: whether entries survive this process and are seen by every process
  (a table in the application's database) or live in this process only.
- ``record_now(tags)``: add an entry in its own transaction; its id.
- ``pending()``: entries recorded but not yet applied to a shared store, oldest
  first, as ``(id, tags)``.
- ``recent(after_id)``: entries with an id above ``after_id`` plus any younger than a
  short horizon (ids are not always committed in order), as ``(id, tags)``; a
  per-process store replays them itself.
- ``max_applied()``: the highest id known to have reached the shared store (0 if
  none); a store whose ``seq`` is behind it lost invalidations (restarted from an
  older snapshot) and moves to a new epoch.
- ``mark_applied(ids)``: these ids reached the shared store.

Methods run outside any request transaction of the caller, raise
``JournalUnavailable`` when the journal cannot be read or written, and must not raise
for an empty journal.

``MemoryJournal`` (the default) keeps pending entries in this process: an
invalidation issued while Redis is down is applied by this process when Redis
answers again, and this process never trusts Redis before that. Other processes
cannot see it, so with several processes sharing Redis only a durable journal
(``flask_response_cache.contrib.sqlalchemy.SqlJournal``) keeps promise 1 for all of
them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

JournalEntry = tuple[int, Sequence[str]]

# Pending entries a MemoryJournal keeps before it gives up on replaying them one by one
# and asks for a new epoch instead (every entry of the store becomes unreachable).
MEMORY_PENDING_MAX = 100_000
# max_applied() after an overflow: above any id, so the store's seq is behind it once.
FORCE_NEW_EPOCH = 2**62


class JournalUnavailable(Exception):
    """The journal cannot be read or written (its database is down)."""


class Journal(Protocol):
    durable: bool

    def record_now(self, tags: Sequence[str]) -> int: ...
    def pending(self) -> list[JournalEntry]: ...
    def recent(self, after_id: int) -> list[JournalEntry]: ...
    def max_applied(self) -> int: ...
    def mark_applied(self, ids: Sequence[int]) -> None: ...


class MemoryJournal:
    """Pending invalidations of this process, in memory (see the module docstring).

    Ids come from the clock in microseconds, never repeating and never going back
    within the process, so a store's ``seq`` (the highest id any process applied)
    is comparable with this process's ``max_applied``: a store restored from a
    snapshot older than this process's last applied invalidation is detected.
    """

    durable = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[str, ...]] = {}
        self._last_id = 0
        self._max_applied = 0

    def _next_id(self) -> int:
        self._last_id = max(self._last_id + 1, time.time_ns() // 1000)
        return self._last_id

    def record_now(self, tags: Sequence[str]) -> int:
        with self._lock:
            entry_id = self._next_id()
            if len(self._pending) >= MEMORY_PENDING_MAX:
                # Too many to replay one by one: drop them and make the store move to a
                # new epoch at its next verification, which invalidates everything.
                self._pending.clear()
                self._max_applied = FORCE_NEW_EPOCH
            self._pending[entry_id] = tuple(tags)
            return entry_id

    def pending(self) -> list[JournalEntry]:
        with self._lock:
            return sorted(self._pending.items())

    def recent(self, after_id: int) -> list[JournalEntry]:
        with self._lock:
            return sorted((i, tags) for i, tags in self._pending.items() if i > after_id)

    def max_applied(self) -> int:
        return self._max_applied

    def mark_applied(self, ids: Sequence[int]) -> None:
        with self._lock:
            for entry_id in ids:
                if self._pending.pop(entry_id, None) is not None:
                    self._max_applied = max(self._max_applied, entry_id)
