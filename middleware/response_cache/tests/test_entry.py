# mypy: allow-untyped-defs, allow-incomplete-defs
"""The stored HTTP payload (entry.py): exact replay, stable ETags, gzip at rest."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from flask_response_cache.entry import FLAG_GZIP, HttpEntry, strong_etag

HEADERS = [("Content-Type", "application/json"), ("Link", "</x>; rel=next"), ("X-Ünïcode", "é")]


def test_round_trip_replays_status_headers_and_body_exactly():
    entry = HttpEntry.build(200, HEADERS, b'{"a": 1}')
    payload, flags = entry.encode()
    decoded = HttpEntry.decode(payload, flags)
    assert decoded == entry
    assert decoded is not None
    assert decoded.content_type == "application/json"
    assert decoded.headers == tuple(HEADERS)


def test_etag_is_strong_and_derived_from_the_body_alone():
    body = b"x" * 5000
    first = HttpEntry.build(200, HEADERS, body)
    second = HttpEntry.build(200, [("Content-Type", "text/plain")], body)
    assert first.etag == second.etag == strong_etag(body)
    assert first.etag == '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    assert not first.etag.startswith("W/")
    assert HttpEntry.build(200, HEADERS, body + b"!").etag != first.etag


def test_small_bodies_are_stored_as_is():
    entry = HttpEntry.build(200, HEADERS, b"x" * 1023, compress_min_bytes=1024)
    assert not entry.gzipped
    assert entry.encode()[1] == 0


def test_bodies_of_1_kib_and_more_are_stored_gzipped_deterministically():
    body = b'{"data": "' + b"abc" * 2000 + b'"}'
    entry = HttpEntry.build(200, HEADERS, body, compress_min_bytes=1024)
    assert entry.gzipped and len(entry.body) < len(body)
    assert gzip.decompress(entry.body) == body
    assert entry.encode()[1] & FLAG_GZIP
    # identical bodies compress to identical bytes on every worker and instance
    assert HttpEntry.build(200, HEADERS, body).body == entry.body


def test_incompressible_bodies_stay_uncompressed():
    body = bytes(range(256)) * 4 + hashlib.sha256(b"seed").digest() * 40
    noise = hashlib.shake_256(body).digest(4096)
    entry = HttpEntry.build(200, HEADERS, noise)
    assert not entry.gzipped
    assert entry.body == noise


def test_gzip_bytes_served_as_is_to_clients_that_accept_them():
    body = b"hello " * 1000
    entry = HttpEntry.build(200, HEADERS, body)
    assert entry.body_for(gzip_ok=True) == (entry.body, True)
    assert entry.body_for(gzip_ok=False) == (body, False)
    assert entry.body_for(gzip_ok=False) == (body, False)  # memoised by ETag, same bytes


def test_a_corrupt_compressed_body_is_detected():
    entry = HttpEntry.build(200, HEADERS, b"corrupt me " * 1000)
    broken = HttpEntry(entry.status, entry.headers, entry.etag, entry.body[:-8], True)
    with pytest.raises(ValueError):
        broken.body_for(gzip_ok=False)
    lying = HttpEntry(entry.status, entry.headers, '"0000"', entry.body, True)
    with pytest.raises(ValueError):
        lying.body_for(gzip_ok=False)


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\x00\xc8\x00\x05\x04abc"])
def test_truncated_payloads_decode_to_none(payload):
    assert HttpEntry.decode(payload, 0) is None


def test_overhead_is_small_against_the_body():
    body = b"x" * 400
    payload, _ = HttpEntry.build(200, [("Content-Type", "application/json")], body).encode()
    assert len(payload) - len(body) < 100
