"""The stored record: freshness metadata in front of an opaque payload.

Layout (network byte order)::

    b"rc" | version u8 | flags u8 | stored_at f64 | ttl f32 | swr f32 | sie f32 | payload

``version`` is the format version: a record of another version decodes as a
miss (never an error), so a format change needs no flush. Both faces of the
cache use it: the HTTP face's payload is an encoded response, the service
face's payload is JSON.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FORMAT_VERSION = 1
_MAGIC = b"rc"
_HEADER = struct.Struct("!2sBBdfff")
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long a record is fresh, then how long it may still be served stale.

    ``stale_while_revalidate``: after ``ttl``, serve the old record while one
    caller refreshes it (RFC 5861). ``stale_if_error``: after ``ttl``, serve
    the old record when computing a new one fails (RFC 5861).
    """

    ttl: float
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0

    def __post_init__(self) -> None:
        if self.ttl <= 0:
            raise ValueError("ttl must be > 0")
        if self.stale_while_revalidate < 0 or self.stale_if_error < 0:
            raise ValueError("stale windows must be >= 0")

    @property
    def retention(self) -> float:
        """How long storage must keep the record."""
        return self.ttl + max(self.stale_while_revalidate, self.stale_if_error)


@dataclass(frozen=True, slots=True)
class Record:
    payload: bytes
    stored_at: float
    ttl: float
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    flags: int = 0

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)

    def is_fresh(self, now: float) -> bool:
        return now - self.stored_at < self.ttl

    def may_serve_while_revalidating(self, now: float) -> bool:
        return now - self.stored_at < self.ttl + self.stale_while_revalidate

    def may_serve_on_error(self, now: float) -> bool:
        return now - self.stored_at < self.ttl + self.stale_if_error

    def encode(self) -> bytes:
        header = _HEADER.pack(
            _MAGIC,
            FORMAT_VERSION,
            self.flags,
            self.stored_at,
            self.ttl,
            self.stale_while_revalidate,
            self.stale_if_error,
        )
        return header + self.payload

    @classmethod
    def decode(cls, raw: bytes) -> Record | None:
        """The record, or None for anything not of this format version."""
        if len(raw) < HEADER_SIZE or raw[:2] != _MAGIC or raw[2] != FORMAT_VERSION:
            return None
        _, _, flags, stored_at, ttl, swr, sie = _HEADER.unpack_from(raw)
        return cls(raw[HEADER_SIZE:], stored_at, ttl, swr, sie, flags)

    @classmethod
    def new(cls, payload: bytes, now: float, freshness: Freshness, flags: int = 0) -> Record:
        return cls(
            payload,
            now,
            freshness.ttl,
            freshness.stale_while_revalidate,
            freshness.stale_if_error,
            flags,
        )
