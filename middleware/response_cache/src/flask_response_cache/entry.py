"""The HTTP payload inside a cache ``Record``: one stored response.

Binary layout (network byte order), versioned by the enclosing ``Record``::

    status u16 | header count u16 | etag len u8 | etag (ascii)
    | count x (name len u16 | name | value len u16 | value)   (UTF-8)
    | body

``Record.flags`` bit ``FLAG_GZIP`` says the body is gzip-compressed.

- The strong ETag is ``"<first 32 hex of sha256(body)>"`` over the
  *uncompressed* body, computed once at store time: every worker of every
  instance derives the same validator for the same bytes.
- Bodies of ``compress_min_bytes`` (1 KiB) or more are stored gzip-compressed at
  level 1 (``mtime=0``, so identical bodies compress to identical bytes) when that is
  smaller; clients sending ``Accept-Encoding: gzip`` get the stored bytes
  as-is, others get them decompressed.
- No pickle, no JSON: decoding is a few ``struct`` reads, so the hit path
  stays cheap and a shared store never holds executable data. A payload that
  does not parse decodes to ``None`` (a miss, never an error).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

FLAG_GZIP = 0x01
# Level 1 costs about half of level 6's CPU on a 15 KB JSON page for ~25% more bytes
# (still about a third of the body): a miss pays the compression, so it is kept cheap.
GZIP_LEVEL = 1
_HEAD = struct.Struct("!HHB")
_LEN = struct.Struct("!H")
_INFLATED_MAX_BYTES = 8 * 1024 * 1024


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True, slots=True)
class HttpEntry:
    status: int
    headers: tuple[tuple[str, str], ...]
    etag: str
    body: bytes
    gzipped: bool = False

    @classmethod
    def build(
        cls,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        compress_min_bytes: int = 1024,
    ) -> HttpEntry:
        """An entry for ``body`` (uncompressed) and the already-filtered ``headers``."""
        etag = strong_etag(body)
        stored, gzipped = body, False
        if len(body) >= compress_min_bytes:
            packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            if len(packed) < len(body):
                stored, gzipped = packed, True
        return cls(status, tuple(headers), etag, stored, gzipped)

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return None

    def encode(self) -> tuple[bytes, int]:
        """``(payload, flags)`` for ``CacheCore.complete``."""
        parts = [_HEAD.pack(self.status, len(self.headers), len(self.etag)), self.etag.encode()]
        for name, value in self.headers:
            raw_name, raw_value = name.encode(), value.encode()
            parts += [_LEN.pack(len(raw_name)), raw_name, _LEN.pack(len(raw_value)), raw_value]
        parts.append(self.body)
        return b"".join(parts), FLAG_GZIP if self.gzipped else 0

    @classmethod
    def decode(cls, payload: bytes, flags: int) -> HttpEntry | None:
        try:
            status, count, etag_len = _HEAD.unpack_from(payload)
            offset = _HEAD.size
            etag = payload[offset : offset + etag_len].decode()
            offset += etag_len
            headers = []
            for _ in range(count):
                name, offset = _read_text(payload, offset)
                value, offset = _read_text(payload, offset)
                headers.append((name, value))
        except (struct.error, UnicodeDecodeError):
            return None
        return cls(status, tuple(headers), etag, payload[offset:], bool(flags & FLAG_GZIP))

    def body_for(self, gzip_ok: bool) -> tuple[bytes, bool]:
        """``(body, is_gzip)`` to send to a client that does or does not accept gzip.

        Raises ``ValueError`` when a compressed body does not decompress to the
        bytes its ETag names (a corrupt entry: treat it as a miss).
        """
        if not self.gzipped or gzip_ok:
            return self.body, self.gzipped
        return _inflate(self.etag, self.body), False


def _read_text(payload: bytes, offset: int) -> tuple[str, int]:
    (length,) = _LEN.unpack_from(payload, offset)
    start = offset + _LEN.size
    end = start + length
    if end > len(payload):
        raise struct.error("truncated entry")
    return payload[start:end].decode(), end


# Decompressed bodies by ETag. The ETag is the hash of the uncompressed body,
# so this memo is content-addressed: it can never answer with bytes other than
# the ones the stored entry decompresses to, whatever the entry's freshness.
_inflated: OrderedDict[str, bytes] = OrderedDict()
_inflated_bytes = 0
_inflated_lock = threading.Lock()


def _inflate(etag: str, packed: bytes) -> bytes:
    global _inflated_bytes
    with _inflated_lock:
        body = _inflated.get(etag)
        if body is not None:
            _inflated.move_to_end(etag)
            return body
    try:
        body = gzip.decompress(packed)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError("stored body does not decompress") from exc
    if strong_etag(body) != etag:
        raise ValueError("stored body does not match its ETag")
    if len(body) <= _INFLATED_MAX_BYTES // 8:
        with _inflated_lock:
            if etag not in _inflated:
                _inflated[etag] = body
                _inflated_bytes += len(body)
            while _inflated_bytes > _INFLATED_MAX_BYTES:
                _, dropped = _inflated.popitem(last=False)
                _inflated_bytes -= len(dropped)
    return body
