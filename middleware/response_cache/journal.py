"""The invalidation journal: a durable record of what each write invalidated.

The cache cannot make Redis durable, so the application keeps the truth in
its own database (an outbox table written in the same transaction as the
data change). The cache reads the journal to decide whether it may trust
what the store holds. Any object with these methods works; this package
ships none, because the journal must live in the application's database.

- ``pending()``: entries committed but not yet applied to a shared store,
  oldest first, as ``(id, tags)``.
- ``recent(after_id)``: entries with an id above ``after_id`` plus any
  younger than a short horizon (ids are not always committed in order), as
  ``(id, tags)``; a per-process store replays them itself.
- ``max_applied()``: the highest id known to have been applied to the shared
  store (0 if none).
- ``mark_applied(ids)``: record that these ids reached the shared store.

Methods run outside any request transaction of the caller and must not raise
for an empty journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

JournalEntry = tuple[int, Sequence[str]]


class Journal(Protocol):
    def pending(self) -> list[JournalEntry]: ...
    def recent(self, after_id: int) -> list[JournalEntry]: ...
    def max_applied(self) -> int: ...
    def mark_applied(self, ids: Sequence[int]) -> None: ...
