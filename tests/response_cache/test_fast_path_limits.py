"""The fast hit path in the project's app: rate limits count its hits jointly with Flask's
requests, its answers carry the Flask path's headers, and Redis failures hand requests to Flask.

Real Redis (``redis_server``) and the real database (``make_app``). ``FlaskEntries`` counts
the requests the fast path handed to the Flask app below it: a hit that leaves the count
unchanged was answered below Flask.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_response_cache.state import state_for

from tests.conftest import Actions, DatabaseHelpers
from tests.observability.conftest import METRICS_TOKEN, metric, scrape

POSTS = "/api/v1/posts"
LIMIT_KEY = "rl:LIMITER/{address}/api/3/1/minute"


class FlaskEntries:
    """Counts the requests that reach Flask through the app's fast path."""

    def __init__(self, app: Flask) -> None:
        fast_path = state_for(app).fast_path
        assert fast_path is not None
        inner = fast_path.wsgi_app
        self.count = 0

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            self.count += 1
            return inner(environ, start_response)

        fast_path.wsgi_app = counting

    def get(self, client: Any, path: str, **kwargs: Any) -> Any:
        before = self.count
        response = client.get(path, **kwargs)
        response.get_data()
        response.reached_flask = self.count != before
        return response


@pytest.fixture(params=["redis", "embedded"])
def build(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    def builder(**overrides: Any) -> Flask:
        if request.param == "redis":
            return make_app(redis=request.getfixturevalue("redis_server"), **overrides)
        return make_app(**overrides)

    return builder


def with_posts(app: Flask, count: int = 12) -> Flask:
    """An author and ``count`` published posts (list pages well over 1 KiB: stored gzip'd)."""
    with app.test_client() as client:
        Actions(app).register(client, "writer@example.com", "Writer")
    user_id = 1
    DatabaseHelpers(app).insert_posts(user_id, count)
    return app


def count_in(app: Flask, address: str = "127.0.0.1") -> int:
    """The api bucket's count for ``address`` where the app's limiter keeps it."""
    limiter = app.extensions["rate_limits"]
    link = app.extensions.get("redis_link")
    if link is not None:
        raw = link.client.get(LIMIT_KEY.format(address=address))
        return int(raw or 0)
    from limits import parse

    hits = limiter.storage.get(parse("3 per minute").key_for(address, "api"))
    return int(hits)


# -- rate limits count fast hits ---------------------------------------------------------------


def test_fast_hits_and_flask_requests_share_one_bucket(build):
    app = build(RATELIMIT_API="3 per minute")
    entries = FlaskEntries(app)
    client = app.test_client()
    miss = entries.get(client, POSTS)
    hit = entries.get(client, POSTS)
    other_miss = entries.get(client, f"{POSTS}?page=2")
    refused = entries.get(client, POSTS)
    assert [miss.reached_flask, hit.reached_flask, other_miss.reached_flask] == [True, False, True]
    assert [r.headers["X-Cache"] for r in (miss, hit, other_miss)] == ["MISS", "HIT", "MISS"]
    assert [r.headers["X-RateLimit-Remaining"] for r in (miss, hit, other_miss)] == ["2", "1", "0"]
    assert refused.status_code == 429
    assert refused.headers["X-Cache"] == "BYPASS"
    assert count_in(app) == 4  # each request counted once, whichever side answered it


def test_a_miss_handed_to_flask_after_being_counted_is_not_counted_again(make_app, redis_server):
    app = make_app(redis=redis_server, RATELIMIT_API="3 per minute")
    client = app.test_client()
    assert client.get(POSTS).headers["X-Cache"] == "MISS"
    assert count_in(app) == 1
    assert client.get(POSTS).headers["X-RateLimit-Remaining"] == "1"
    assert count_in(app) == 2


def test_a_hit_over_the_limit_is_refused_by_flask_exactly_as_without_the_fast_path(
    make_app, redis_server
):
    flask_only = make_app(
        redis=redis_server, RATELIMIT_API="3 per minute", RESPONSE_CACHE_FAST_PATH=False
    )
    fast = make_app(redis=redis_server, RATELIMIT_API="3 per minute")
    entries = FlaskEntries(fast)
    answers = {}
    for name, app, address in (("flask", flask_only, "10.0.0.1"), ("fast", fast, "10.0.0.2")):
        client = app.test_client()
        for _ in range(3):
            client.get(POSTS, environ_base={"REMOTE_ADDR": address})
        answers[name] = entries.get(client, POSTS, environ_base={"REMOTE_ADDR": address})
    slow, quick = answers["flask"], answers["fast"]
    assert quick.reached_flask  # nothing counted below Flask: Flask-Limiter refuses it there
    assert quick.status_code == slow.status_code == 429
    assert quick.get_data() == slow.get_data()
    assert quick.get_json() == {
        "status": "error",
        "message": "Too many requests: limit is 3 per 1 minute.",
    }
    assert normalised(quick.headers) == normalised(slow.headers)
    assert 0 < int(quick.headers["Retry-After"]) <= 60


def test_hits_from_one_ipv6_64_share_the_bucket_of_flask_requests(make_app, redis_server):
    app = make_app(redis=redis_server, RATELIMIT_API="3 per minute")
    entries = FlaskEntries(app)
    client = app.test_client()
    miss = entries.get(client, POSTS, environ_base={"REMOTE_ADDR": "2001:db8:1:2::10"})
    hit = entries.get(client, POSTS, environ_base={"REMOTE_ADDR": "2001:db8:1:2:ffff::1"})
    assert (miss.reached_flask, hit.reached_flask) == (True, False)
    assert hit.headers["X-RateLimit-Remaining"] == "1"
    assert count_in(app, "2001:db8:1:2::/64") == 2
    elsewhere = entries.get(client, POSTS, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert elsewhere.headers["X-RateLimit-Remaining"] == "2"


def test_counting_survives_a_script_flush(make_app, redis_server):
    app = make_app(redis=redis_server, RATELIMIT_API="3 per minute")
    entries = FlaskEntries(app)
    client = app.test_client()
    entries.get(client, POSTS)
    redis_server.client().script_flush()  # what a restart or a failover looks like to EVALSHA
    hit = entries.get(client, POSTS)
    assert not hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert hit.headers["X-RateLimit-Remaining"] == "1"
    assert count_in(app) == 2
    assert entries.get(client, POSTS).headers["X-RateLimit-Remaining"] == "0"
    assert count_in(app) == 3


def test_with_the_limiter_off_fast_hits_carry_no_limit_headers(build):
    app = build(RATELIMIT_ENABLED=False)
    entries = FlaskEntries(app)
    client = app.test_client()
    entries.get(client, POSTS)
    hit = entries.get(client, POSTS)
    assert not hit.reached_flask
    assert not [name for name, _ in hit.headers.items() if "ratelimit" in name.lower()]


def test_a_second_limit_keeps_hits_on_the_fast_path_and_counts_both(build):
    app = build(RATELIMIT_API="3 per minute;100 per hour")
    entries = FlaskEntries(app)
    client = app.test_client()
    entries.get(client, POSTS)
    hit = entries.get(client, POSTS)
    assert not hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert hit.headers["X-RateLimit-Remaining"] == "1"  # the tighter window is shown
    assert hit.headers["RateLimit-Policy"] == '"api";q=3;w=60, "api";q=100;w=3600'
    assert re.fullmatch(r'"api";r=1;t=\d+, "api";r=98;t=\d+', hit.headers["RateLimit"])


# -- the same answer as the Flask path ---------------------------------------------------------

_NUMBERS = {
    "age": None,
    "x-ratelimit-reset": None,
    "x-request-id": None,
    "retry-after": None,
    "cache-control": r"max-age=\d+",
    "cache-status": r"ttl=-?\d+",
    "ratelimit": r"t=\d+",
}


def normalised(headers: Any) -> list[tuple[str, str]]:
    """Header list with the time-dependent numbers blanked (their closeness is checked apart)."""
    out = []
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _NUMBERS:
            pattern = _NUMBERS[lowered]
            value = (
                "#"
                if pattern is None
                else re.sub(pattern, lambda m: re.sub(r"-?\d+", "#", m.group()), value)
            )
        out.append((lowered, value))
    return sorted(out)


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {}),
        ("GET", {"Accept-Encoding": "gzip"}),
        ("HEAD", {}),
        ("GET", {"If-None-Match": "*"}),
    ],
)
def test_a_fast_hit_has_the_headers_of_a_flask_path_hit(make_app, redis_server, method, headers):
    flask_only = with_posts(make_app(redis=redis_server, RESPONSE_CACHE_FAST_PATH=False))
    fast = make_app(redis=redis_server)
    entries = FlaskEntries(fast)
    path = f"{POSTS}?limit=12"
    flask_only.test_client().get(path, environ_base={"REMOTE_ADDR": "10.0.0.3"})
    slow = flask_only.test_client().open(
        path, method=method, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    before = entries.count
    quick = fast.test_client().open(
        path, method=method, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert entries.count == before, "answered below Flask"
    assert quick.status_code == slow.status_code
    assert quick.headers["X-Cache"] == slow.headers["X-Cache"] == "HIT"
    assert quick.get_data() == slow.get_data()
    assert normalised(quick.headers) == normalised(slow.headers)
    for name in ("Age", "X-RateLimit-Reset"):
        assert abs(int(quick.headers[name]) - int(slow.headers[name])) <= 1
    if method == "GET" and not headers:
        assert len(quick.get_data()) > 1024 and "Content-Encoding" not in quick.headers
    if headers.get("Accept-Encoding"):
        assert quick.headers["Content-Encoding"] == "gzip"


def test_embedded_mode_fast_hits_match_flask_path_hits(make_app, tmp_path):
    shared = {"SESSION_BACKEND": "sql"}
    flask_only = make_app(RESPONSE_CACHE_FAST_PATH=False, **shared)
    fast = make_app(**shared)
    entries = FlaskEntries(fast)
    for app in (flask_only, fast):
        app.test_client().get(POSTS)  # each process has its own in-memory store
    slow = flask_only.test_client().get(POSTS)
    quick = entries.get(fast.test_client(), POSTS)
    assert not quick.reached_flask
    assert normalised(quick.headers) == normalised(slow.headers)


# -- observability and counters ----------------------------------------------------------------


def test_metrics_and_counters_see_fast_hits(make_app, redis_server):
    app = make_app(redis=redis_server, METRICS_TOKEN=METRICS_TOKEN)
    entries = FlaskEntries(app)
    client = app.test_client()
    entries.get(client, POSTS)
    for _ in range(2):
        assert not entries.get(client, POSTS).reached_flask
    text = scrape(client)
    assert (
        metric(text, "response_cache_outcomes_total", endpoint="posts.list_posts", outcome="hit")
        == 2
    )
    assert metric(text, "http_responses_total", endpoint="posts.list_posts", status="200") == 3
    state = state_for(app)
    state.counters.flush()
    assert state.counters.read()["posts.list_posts"]["hit"] == 2


def test_a_fast_hit_carries_its_own_request_id(make_app, redis_server):
    app = make_app(redis=redis_server)
    client = app.test_client()
    client.get(POSTS, headers={"X-Request-ID": "filler"})
    hit = client.get(POSTS, headers={"X-Request-ID": "reader"})
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.headers.getlist("X-Request-ID") == ["reader"]


# -- Redis failures ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_with_redis_down_requests_go_to_flask_which_bypasses(make_app, redis_server, fault):
    app = make_app(redis=redis_server, SESSION_BACKEND="sql")
    entries = FlaskEntries(app)
    client = app.test_client()
    entries.get(client, POSTS)
    assert not entries.get(client, POSTS).reached_flask
    if fault == "kill":
        redis_server.kill()
    else:
        redis_server.pause()
    try:
        timings = []
        for _ in range(10):
            started = time.perf_counter()
            answer = entries.get(client, POSTS)
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 200
            assert answer.reached_flask
            assert answer.headers["X-Cache"] == "BYPASS"
        assert timings[0] < 1.0, timings  # at most one short timeout, then the breaker
        assert sorted(timings[1:])[-2] < 0.25, timings
    finally:
        if fault == "pause":
            redis_server.resume()


@pytest.mark.slow
def test_on_a_cluster_the_count_rides_on_the_read_across_slots(make_app, tmp_path):
    from redis.cluster import key_slot

    from redis_link import build_client
    from tests.support.redis_cluster import LocalCluster

    cluster = LocalCluster(tmp_path / "cluster").start()
    try:
        app = make_app(REDIS_URL=cluster.url, RATELIMIT_API="3 per minute", SESSION_BACKEND="sql")
        entries = FlaskEntries(app)
        client = app.test_client()
        answers = [entries.get(client, POSTS) for _ in range(4)]
        assert [a.reached_flask for a in answers[:3]] == [True, False, False]
        assert [a.headers["X-Cache"] for a in answers[:3]] == ["MISS", "HIT", "HIT"]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
        assert answers[3].status_code == 429
        key = LIMIT_KEY.format(address="127.0.0.1")
        assert key_slot(key.encode()) != key_slot(b"{rc}:epoch")  # two slots, one round trip
        assert int(build_client(cluster.url).get(key)) == 4
    finally:
        cluster.stop()


def test_adding_a_limit_is_one_line_and_keeps_the_fast_path(make_app, redis_server, monkeypatch):
    from middleware.rate_limits import buckets

    burst = buckets.Bucket("burst", "RATELIMIT_BURST", exempt_when=buckets.outside_api)
    monkeypatch.setattr(buckets, "APPLICATION_LIMITS", [*buckets.APPLICATION_LIMITS, burst])
    app = make_app(redis=redis_server, RATELIMIT_API="100 per minute", RATELIMIT_BURST="3 per hour")
    entries = FlaskEntries(app)
    client = app.test_client()
    answers = [entries.get(client, POSTS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.reached_flask for a in answers] == [True, False, False, True]
    assert answers[1].headers["RateLimit-Policy"] == '"api";q=100;w=60, "burst";q=3;w=3600'
    assert answers[2].headers["X-RateLimit-Remaining"] == "97"  # the minute window shows
