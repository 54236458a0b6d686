"""``Server-Timing: app;dur=<ms>`` stamped by the outermost WSGI layer (issue 7, hit latency).

Contract (``observability/middleware.py``, setting ``SERVER_TIMING``):
- on: every response the observer sees carries exactly one ``Server-Timing``, ``app;dur=`` with
  three decimals, no longer than the request took: misses, fast-path hits (answered below
  Flask), hits through Flask, 304s, 404s;
- off (the default): no ``Server-Timing`` at all;
- the observer owns the header: one coming from below (a view, a replayed entry) is dropped;
- it is added above the response cache, so no stored entry holds one and a HIT's value is fresh.

Real apps on real redis-server processes (or embedded mode); Flask dispatches are counted with
the ``request_started`` signal (not a hook, so the fast path stays on).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, request_started
from flask_response_cache.entry import HttpEntry
from flask_response_cache.record import Record
from werkzeug.test import TestResponse

from config import ConfigError, load_config

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

LIST = "/api/v1/posts"
VALUE = re.compile(r"app;dur=(\d+\.\d{3})")


@contextmanager
def dispatches(app: Flask) -> Iterator[list[int]]:
    """How many requests Flask itself dispatched inside the block (``count[0]``)."""
    count = [0]

    def seen(_sender: Any, **_extra: Any) -> None:
        count[0] += 1

    with request_started.connected_to(seen, app):
        yield count


def timed_get(app: Flask, path: str, **headers: str) -> tuple[TestResponse, float]:
    """The response (body read) and the wall time of the whole request, in ms."""
    started = time.perf_counter()
    response = app.test_client().get(path, headers=headers)
    response.get_data()
    return response, (time.perf_counter() - started) * 1000.0


def duration_of(response: TestResponse, wall_ms: float) -> float:
    """The one ``Server-Timing`` value, checked: format, once, 0 <= dur <= the request's time."""
    values = response.headers.getlist("Server-Timing")
    assert len(values) == 1, values
    match = VALUE.fullmatch(values[0])
    assert match, values[0]
    duration = float(match.group(1))
    assert 0.0 <= duration <= wall_ms + 0.001
    return duration


@pytest.fixture(params=["redis", "embedded"])
def timed_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Flask:
    if request.param == "redis":
        return make_app(redis=request.getfixturevalue("redis_server"), SERVER_TIMING=True)
    return make_app(SERVER_TIMING=True)


def test_miss_hit_and_304_each_carry_one_fresh_server_timing(timed_app):
    miss, miss_wall = timed_get(timed_app, LIST)
    assert miss.headers["X-Cache"] == "MISS"
    duration_of(miss, miss_wall)

    for _ in range(3):  # every hit gets its own, bounded by its own (short) wall time
        hit, hit_wall = timed_get(timed_app, LIST)
        assert hit.headers["X-Cache"] == "HIT"
        duration_of(hit, hit_wall)

    etag = hit.headers["ETag"]
    not_modified, wall = timed_get(timed_app, LIST, **{"If-None-Match": etag})
    assert not_modified.status_code == 304
    duration_of(not_modified, wall)


def test_fast_path_hits_and_304s_answered_below_flask_carry_it(make_app, redis_server):
    app = make_app(redis=redis_server, SERVER_TIMING=True)
    timed_get(app, LIST)  # the miss fills the entry
    with dispatches(app) as flask_dispatched:
        hit, hit_wall = timed_get(app, LIST)
        not_modified, wall = timed_get(app, LIST, **{"If-None-Match": hit.headers["ETag"]})
    assert flask_dispatched[0] == 0, "the fast path did not answer: this test covers nothing"
    assert hit.headers["X-Cache"] == "HIT"
    duration_of(hit, hit_wall)
    assert not_modified.status_code == 304
    duration_of(not_modified, wall)


def test_the_flask_path_carries_it_too(make_app, redis_server):
    app = make_app(redis=redis_server, SERVER_TIMING=True, RESPONSE_CACHE_FAST_PATH=False)
    timed_get(app, LIST)
    with dispatches(app) as flask_dispatched:
        hit, wall = timed_get(app, LIST)
    assert flask_dispatched[0] == 1
    assert hit.headers["X-Cache"] == "HIT"
    duration_of(hit, wall)


def test_errors_and_unrouted_paths_carry_it(timed_app):
    for path in ("/api/v1/posts/123456", "/no/such/page"):
        response, wall = timed_get(timed_app, path)
        assert response.status_code == 404
        duration_of(response, wall)


def test_off_by_default_and_then_absent_everywhere(make_app, redis_server):
    assert load_config({})["SERVER_TIMING"] is False
    app = make_app(redis=redis_server)  # no SERVER_TIMING override: the environment's default
    assert app.config["SERVER_TIMING"] is False
    miss, _ = timed_get(app, LIST)
    hit, _ = timed_get(app, LIST)
    not_modified, _ = timed_get(app, LIST, **{"If-None-Match": hit.headers["ETag"]})
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT")
    assert not_modified.status_code == 304
    for response in (miss, hit, not_modified):
        assert "Server-Timing" not in response.headers


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("off", False), ("", False)]
)
def test_the_setting_is_a_boolean(raw, expected):
    assert load_config({"SERVER_TIMING": raw})["SERVER_TIMING"] is expected


def test_a_malformed_setting_stops_the_start_up():
    with pytest.raises(ConfigError, match="SERVER_TIMING"):
        load_config({"SERVER_TIMING": "sometimes"})


@pytest.mark.parametrize("enabled", [True, False])
def test_a_server_timing_from_below_is_never_passed_on(make_app, enabled):
    """A layer below (a view, a stored response) saying Server-Timing: only the observer's own
    value (on) or nothing (off) reaches the client, never two and never a replayed one."""
    app = make_app(SERVER_TIMING=enabled)
    observer = app.wsgi_app
    below = observer.wsgi_app

    def replaying(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] != LIST:
            return below(environ, start_response)
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("X-Cache", "HIT"),
             ("server-timing", "app;dur=999.000"), ("Server-Timing", "db;dur=5")],
        )  # fmt: skip
        return [b"{}"]

    observer.wsgi_app = replaying
    response, wall = timed_get(app, LIST)
    if enabled:
        assert duration_of(response, wall) != 999.0
    else:
        assert response.headers.getlist("Server-Timing") == []


def _stored_entries(redis_server: Any) -> list[HttpEntry]:
    client = redis_server.client()
    entries = []
    for key in client.scan_iter(count=1000):
        if client.type(key) != b"string":
            continue
        record = Record.decode(client.get(key) or b"")
        entry = HttpEntry.decode(record.payload, record.flags) if record else None
        if entry is not None and entry.content_type:
            entries.append(entry)
    return entries


def test_no_stored_entry_holds_a_server_timing(make_app, redis_server):
    app = make_app(redis=redis_server, SERVER_TIMING=True)
    for path in (LIST, f"{LIST}?page=2", LIST):
        response, _ = timed_get(app, path)
        assert "Server-Timing" in response.headers
    entries = _stored_entries(redis_server)
    assert len(entries) == 2, entries  # the two list pages: the scan found the entries
    for entry in entries:
        assert all(name.lower() != "server-timing" for name, _ in entry.headers), entry.headers
