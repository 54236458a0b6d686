"""The in-process backends: ``MemoryStorage`` (bounded, per process) and ``NullStorage``.

Both follow the storage contract (``storage/__init__.py``) and never fail.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from ..layout import Layout
from . import EPOCH, OK, STALE, TAG_RETENTION_MS


class NullStorage:
    """Stores nothing; every lookup misses. For switching the cache off."""

    shared = True

    def __init__(self, layout: Layout | None = None) -> None:
        self.layout = layout or Layout()

    def connection_generation(self) -> int:
        return 0

    def get(self, key: str) -> bytes | None:
        return None

    def acquire(self, epoch: str, name: str, token: str, lock_ms: int) -> tuple[bool, int]:
        return True, 0

    def claim(
        self, epoch: str, name: str, token: str, lock_ms: int
    ) -> tuple[bool, int, bytes | None]:
        return bool(token), 0, None

    def release(self, epoch: str, name: str, token: str) -> None:
        return None

    def store(self, epoch: str, name: str, value: bytes, retention_ms: int,
              tags: Sequence[str], snapshot: int, release: str = "") -> str:  # fmt: skip
        return OK

    def invalidate(self, epoch: str, tags: Sequence[str], seq: int) -> str:
        return OK

    def verify(self, max_applied: int, new_epoch: str) -> str:
        return "null"

    def delete(self, keys: Sequence[str]) -> int:
        return 0

    def scan(self, match: str, limit: int) -> list[str]:
        return []

    def hash_get_all(self, key: str) -> dict[str, bytes]:
        return {}

    def hash_set(self, key: str, field: str, value: bytes) -> None:
        return None

    def hash_incr(self, key: str, increments: dict[str, int]) -> None:
        return None

    def incr(self, key: str) -> int:
        return 0

    def get_int(self, key: str) -> int:
        return 0


class MemoryStorage:
    """A bounded, thread-safe, per-process store with the same semantics.

    Bounded by entry count and total bytes (least recently used first out).
    Expiry follows the injected clock, so tests control time.
    """

    shared = False

    def __init__(
        self,
        layout: Layout | None = None,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layout = layout or Layout()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.RLock()
        # Entries and locks: bounded, least recently used first out.
        self._values: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        # Epoch, seq and generations: never evicted (losing a tag generation
        # would reopen the stale-set race), expired by their own TTL only.
        self._meta: dict[str, tuple[bytes, float | None]] = {}
        self._sets: dict[str, set[str]] = {}
        self._hashes: dict[str, dict[str, bytes]] = {}
        self._bytes = 0

    # -- primitives (lock held by callers) ---------------------------------

    def _read(self, key: str) -> bytes | None:
        item = self._values.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            self._drop(key)
            return None
        self._values.move_to_end(key)
        return value

    def _read_meta(self, key: str) -> bytes | None:
        item = self._meta.get(key)
        if item is None:
            return None
        if item[1] is not None and self._clock() >= item[1]:
            del self._meta[key]
            return None
        return item[0]

    def _write_meta(self, key: str, value: bytes, ttl_ms: int | None = None) -> None:
        expires = None if ttl_ms is None else self._clock() + ttl_ms / 1000
        self._meta[key] = (value, expires)

    def _write(self, key: str, value: bytes, ttl_ms: int | None) -> None:
        self._drop(key)
        expires = None if ttl_ms is None else self._clock() + ttl_ms / 1000
        self._values[key] = (value, expires)
        self._bytes += len(value)
        while len(self._values) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._values))
            self._drop(oldest)

    def _drop(self, key: str) -> bool:
        item = self._values.pop(key, None)
        if item is not None:
            self._bytes -= len(item[0])
        return item is not None

    def _int(self, key: str) -> int:
        raw = self._read_meta(key)
        return int(raw) if raw is not None else 0

    # -- protocol ----------------------------------------------------------

    def connection_generation(self) -> int:
        return 0

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._read(key)

    def acquire(self, epoch: str, name: str, token: str, lock_ms: int) -> tuple[bool, int]:
        with self._lock:
            key = self.layout.lock(epoch, name)
            acquired = self._read(key) is None
            if acquired:
                self._write(key, token.encode(), lock_ms)
            return acquired, self._int(self.layout.generation(epoch))

    def claim(
        self, epoch: str, name: str, token: str, lock_ms: int
    ) -> tuple[bool, int, bytes | None]:
        with self._lock:
            if token:
                acquired, generation = self.acquire(epoch, name, token, lock_ms)
            else:
                acquired, generation = False, self._int(self.layout.generation(epoch))
            return acquired, generation, self._read(self.layout.entry(epoch, name))

    def release(self, epoch: str, name: str, token: str) -> None:
        with self._lock:
            key = self.layout.lock(epoch, name)
            if self._read(key) == token.encode():
                self._drop(key)

    def store(self, epoch: str, name: str, value: bytes, retention_ms: int,
              tags: Sequence[str], snapshot: int, release: str = "") -> str:  # fmt: skip
        with self._lock:
            if release:
                self.release(epoch, name, release)
            if self._read_meta(self.layout.epoch) != epoch.encode():
                return EPOCH
            for tag in tags:
                if self._int(self.layout.tag_generation(epoch, tag)) > snapshot:
                    return STALE
            key = self.layout.entry(epoch, name)
            self._write(key, value, retention_ms)
            for tag in tags:
                self._sets.setdefault(self.layout.members(epoch, tag), set()).add(key)
            return OK

    def invalidate(self, epoch: str, tags: Sequence[str], seq: int) -> str:
        with self._lock:
            if self._read_meta(self.layout.epoch) != epoch.encode():
                return EPOCH
            gen_key = self.layout.generation(epoch)
            generation = self._int(gen_key) + 1
            self._write_meta(gen_key, str(generation).encode())
            for tag in tags:
                self._write_meta(
                    self.layout.tag_generation(epoch, tag),
                    str(generation).encode(),
                    TAG_RETENTION_MS,
                )
                for key in self._sets.pop(self.layout.members(epoch, tag), set()):
                    self._drop(key)
            if seq > self._int(self.layout.seq):
                self._write_meta(self.layout.seq, str(seq).encode())
            return OK

    def verify(self, max_applied: int, new_epoch: str) -> str:
        with self._lock:
            current = self._read_meta(self.layout.epoch)
            seq = self._read_meta(self.layout.seq)
            if current is None or seq is None or int(seq) < max_applied:
                self._write_meta(self.layout.epoch, new_epoch.encode())
                self._write_meta(self.layout.seq, str(max_applied).encode())
                return new_epoch
            return current.decode()

    def delete(self, keys: Sequence[str]) -> int:
        if any(not key.startswith(self.layout.prefix) for key in keys):
            raise ValueError("refusing to delete keys outside the cache namespace")
        with self._lock:
            return sum(self._drop(key) for key in keys)

    def scan(self, match: str, limit: int) -> list[str]:
        if not match.startswith(self.layout.prefix):
            raise ValueError("refusing to scan outside the cache namespace")
        with self._lock:
            found = []
            for key in list(self._values):
                if fnmatch.fnmatchcase(key, match) and self._read(key) is not None:
                    found.append(key)
                    if len(found) >= limit:
                        break
            return found

    def hash_get_all(self, key: str) -> dict[str, bytes]:
        with self._lock:
            return dict(self._hashes.get(key, {}))

    def hash_set(self, key: str, field: str, value: bytes) -> None:
        with self._lock:
            self._hashes.setdefault(key, {})[field] = value

    def hash_incr(self, key: str, increments: dict[str, int]) -> None:
        with self._lock:
            target = self._hashes.setdefault(key, {})
            for field, amount in increments.items():
                target[field] = str(int(target.get(field, b"0")) + amount).encode()

    def incr(self, key: str) -> int:
        with self._lock:
            value = self._int(key) + 1
            self._write_meta(key, str(value).encode())
            return value

    def get_int(self, key: str) -> int:
        with self._lock:
            return self._int(key)
