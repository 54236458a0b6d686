"""The storage protocol and the in-process backends (memory, null).

Contract shared by every backend (one contract test suite runs against all):

- Values are bytes; keys come from ``Layout``; nothing outside the layout's
  namespace is touched.
- ``store`` is atomic: it refuses (``STALE``) when any of the entry's tags was
  invalidated after ``snapshot`` (the generation read when the value started
  to be computed), which closes the stale-set race; it refuses (``EPOCH``)
  when the epoch moved. Otherwise it writes the entry with its retention and
  records it in each tag's member set.
- ``claim`` is ``acquire`` and a read of the entry in one step (one round trip on
  Redis): ``(locked, generation, entry bytes or None)``; an empty token only reads
  (the generation and the entry), taking no lock.
- ``store(..., release=token)`` also releases the fill lock ``token`` holds, in the
  same step, whatever the store's verdict.
- ``invalidate`` is atomic and costs O(entries carrying the tags), never
  O(keys in the store): it bumps the generation, stamps each tag with it,
  deletes the tagged entries and raises ``seq`` to the journal id applied.
- ``verify`` returns the epoch to use, moving to ``new_epoch`` when the store
  has no epoch or its ``seq`` is behind ``max_applied`` (it lost
  invalidations: restarted empty or from an older snapshot).
- Every failure of a remote store raises ``StorageUnavailable``; in-process
  stores never fail.
- ``shared`` says whether all processes see the same data (Redis) or each has
  its own (memory): a per-process store must replay every invalidation
  itself.
- Optional, outside the protocol: ``get_with(key, commands)`` reads ``key`` and
  runs raw ``commands`` in the same round trip, and ``peek_claim`` does the same
  while taking the fill lock when no entry is stored (Redis only; see
  ``redis_storage.py``). Callers check for them with ``getattr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..layout import Layout

OK = "ok"
STALE = "stale"
EPOCH = "epoch"


class StorageUnavailable(Exception):
    """The store cannot be used right now (down, hung, erroring, circuit open)."""


class PartialFailure(StorageUnavailable):
    """A ``get_with`` whose read failed while the commands carried along ran:
    their results are in ``extras``."""

    def __init__(self, message: str, extras: list[object]) -> None:
        super().__init__(message)
        self.extras = extras


class Storage(Protocol):
    layout: Layout
    shared: bool

    def connection_generation(self) -> int: ...
    def get(self, key: str) -> bytes | None: ...
    def acquire(self, epoch: str, name: str, token: str, lock_ms: int) -> tuple[bool, int]: ...
    def claim(
        self, epoch: str, name: str, token: str, lock_ms: int
    ) -> tuple[bool, int, bytes | None]: ...
    def release(self, epoch: str, name: str, token: str) -> None: ...
    def store(
        self,
        epoch: str,
        name: str,
        value: bytes,
        retention_ms: int,
        tags: Sequence[str],
        snapshot: int,
        release: str = "",
    ) -> str: ...
    def invalidate(self, epoch: str, tags: Sequence[str], seq: int) -> str: ...
    def verify(self, max_applied: int, new_epoch: str) -> str: ...
    def delete(self, keys: Sequence[str]) -> int: ...
    def scan(self, match: str, limit: int) -> list[str]: ...
    def hash_get_all(self, key: str) -> dict[str, bytes]: ...
    def hash_set(self, key: str, field: str, value: bytes) -> None: ...
    def hash_incr(self, key: str, increments: dict[str, int]) -> None: ...
    def incr(self, key: str) -> int: ...
    def get_int(self, key: str) -> int: ...


# Tag generations must outlive any computation that started before them.
TAG_RETENTION_MS = 24 * 3600 * 1000


from .memory import MemoryStorage, NullStorage  # noqa: E402  (the protocol comes first)

__all__ = [
    "EPOCH",
    "OK",
    "STALE",
    "TAG_RETENTION_MS",
    "MemoryStorage",
    "NullStorage",
    "PartialFailure",
    "Storage",
    "StorageUnavailable",
]
