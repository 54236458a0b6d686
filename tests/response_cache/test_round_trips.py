"""Round trips to Redis per request: what a miss, a hit and an uncached request cost.

Every Redis call of the cache goes through ``RedisStorage._run`` and every call of the
limiter's storage through the shared ``RedisLink.execute``; ``RoundTrips`` counts both on
the real objects of a real app on a real redis-server (instrumentation, not a stand-in).
The figures are the contract of the miss path (issue 7): the fast path's read carries the
rate-limit count and, when nothing is stored, takes the fill lock (the Flask path fills
under it), the service cache skips its own single-flight inside a response-cache fill, and storing
releases the lock in the same step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_response_cache.state import state_for
from flask_response_cache.storage.redis import RedisStorage

from tests.conftest import Actions
from tests.response_cache.test_fast_path_limits import with_posts

POSTS = "/api/v1/posts"


class RoundTrips:
    """Counts the cache storage's and the limiter's Redis calls (one call = one round trip)."""

    def __init__(self, app: Flask) -> None:
        self.cache = 0
        self.limiter = 0
        storage = state_for(app).core.storage
        assert isinstance(storage, RedisStorage)
        run = storage._run

        def counting_run(operation: Any) -> Any:
            self.cache += 1
            return run(operation)

        storage._run = counting_run  # type: ignore[method-assign]
        failover = app.extensions["rate_limits"].storage
        link_execute = failover.link.execute

        def counting_execute(operation: Any) -> Any:
            self.limiter += 1
            return link_execute(operation)

        failover.link.execute = counting_execute
        self.app = app

    def of(self, client: Any, path: str) -> tuple[Any, int, int]:
        cache, limiter = self.cache, self.limiter
        response = client.get(path)
        response.get_data()
        return response, self.cache - cache, self.limiter - limiter


@pytest.fixture
def redis_app(make_app: Callable[..., Flask], redis_server: Any) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        return with_posts(make_app(redis=redis_server, **overrides))

    return build


def test_a_miss_costs_two_round_trips_and_a_hit_one(redis_app: Callable[..., Flask]) -> None:
    app = redis_app()
    trips = RoundTrips(app)
    client = app.test_client()
    # Outside the figures: the first request renews the trust lease, the second finds
    # the limiter's charge script missing on the server (it then counts on the Flask
    # path and loads it).
    client.get(f"{POSTS}/2").get_data()
    client.get(f"{POSTS}/3").get_data()
    response, cache, limiter = trips.of(client, f"{POSTS}/1")
    assert response.status_code == 200 and response.headers["X-Cache"] == "MISS"
    # Fast-path read (+ the count, + the fill lock as nothing was stored), store
    # (+ release): two, the limiter riding on the first and the service cache skipped
    # inside the fill.
    assert (cache, limiter) == (2, 0)
    assert response.headers["X-RateLimit-Remaining"]
    assert response.headers["RateLimit"].startswith('"api";r=')
    response, cache, limiter = trips.of(client, f"{POSTS}/1")
    assert response.headers["X-Cache"] == "HIT"
    assert (cache, limiter) == (1, 0)


def test_the_service_cache_serves_the_requests_the_response_cache_bypasses(
    redis_app: Callable[..., Flask],
) -> None:
    app = redis_app()
    client = app.test_client()
    assert client.get(f"{POSTS}/3").headers["X-Cache"] == "MISS"
    core = state_for(app).core
    found = core.lookup("posts:single:3")
    assert found.outcome == "fill" and found.fill is not None  # skipped inside the fill
    core.abandon(found.fill)
    bypassing = client.get(f"{POSTS}/3", headers={"Authorization": "Bearer x"})
    assert bypassing.headers["X-Cache"] == "BYPASS"
    assert core.lookup("posts:single:3").outcome == "hit"  # filled by the bypassed read


def test_without_the_fast_path_a_miss_reads_the_entry_once(
    redis_app: Callable[..., Flask],
) -> None:
    app = redis_app(RESPONSE_CACHE_FAST_PATH=False)
    trips = RoundTrips(app)
    client = app.test_client()
    client.get(f"{POSTS}/2").get_data()
    response, cache, limiter = trips.of(client, f"{POSTS}/1")
    assert response.headers["X-Cache"] == "MISS"
    # Read, claim, store; the limiter counts once.
    assert (cache, limiter) == (3, 1)


def test_an_uncached_request_counts_its_rate_limit_in_one_round_trip(
    make_app: Callable[..., Flask], redis_server: Any
) -> None:
    app = make_app(redis=redis_server, CACHE_ENABLED=False)
    failover = app.extensions["rate_limits"].storage
    trips = 0
    execute = failover.link.execute

    def counting(operation: Any) -> Any:
        nonlocal trips
        trips += 1
        return execute(operation)

    failover.link.execute = counting
    client = app.test_client()
    response = client.get(f"{POSTS}?page=1&limit=5")
    assert response.status_code == 200
    assert trips == 1
    assert response.headers["X-RateLimit-Limit"] == "10000"
    assert response.headers["X-RateLimit-Remaining"] == "9999"
    assert response.headers["RateLimit-Policy"] == '"api";q=10000;w=60'


def test_routes_with_limits_of_their_own_stay_with_flask_limiter(
    make_app: Callable[..., Flask], redis_server: Any
) -> None:
    app = make_app(redis=redis_server, RATELIMIT_AUTH="2 per minute")
    client = app.test_client()
    codes = [
        client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "p"})
        for _ in range(3)
    ]
    assert [r.status_code for r in codes] == [401, 401, 429]
    policies = codes[0].headers["RateLimit-Policy"]
    assert '"api";q=10000;w=60' in policies and '"auth";q=2;w=60' in policies


def _locks(app: Flask) -> list[str]:
    storage = state_for(app).core.storage
    return storage.scan(storage.layout.prefix + "l:*", 1000)


def _watch_peeks(app: Flask) -> list[Any]:
    """The fill each fast-path peek carried out (None: it took no lock)."""
    core = state_for(app).core
    taken: list[Any] = []
    peek = core.peek

    def watching(*args: Any, **kwargs: Any) -> Any:
        found, extras = peek(*args, **kwargs)
        taken.append(found.fill)
        return found, extras

    core.peek = watching  # type: ignore[method-assign]
    return taken


def test_a_lock_the_fast_path_took_for_a_request_that_fills_nothing_is_released(
    redis_app: Callable[..., Flask],
) -> None:
    app = redis_app()
    client = app.test_client()
    client.get(f"{POSTS}/2").get_data()
    taken = _watch_peeks(app)
    response = client.get(f"{POSTS}/999999")  # nothing to store: a 404 is never cached
    assert response.status_code == 404
    assert taken[-1] is not None  # the peek did take the lock...
    assert not taken[-1].locked and _locks(app) == []  # ...and it is gone already


def test_a_lock_the_fast_path_took_for_a_refused_request_is_released(
    redis_app: Callable[..., Flask],
) -> None:
    app = redis_app(RATELIMIT_API="3 per minute")
    client = app.test_client()
    for _ in range(3):  # use up the bucket (registering the author may have counted)
        if client.get(f"{POSTS}/2").headers.get("X-RateLimit-Remaining") in ("0", None):
            break
    taken = _watch_peeks(app)
    refused = client.get(f"{POSTS}/1")  # a miss the limiter refuses
    assert refused.status_code == 429
    assert taken[-1] is not None and not taken[-1].locked
    assert _locks(app) == []


def test_a_write_costs_the_cache_one_round_trip_its_invalidation(
    make_app: Callable[..., Flask], redis_server: Any
) -> None:
    app = make_app(redis=redis_server)
    actions = Actions(app)
    client = actions.signed_in("author@example.com", "Author")
    post = actions.create_post(client)
    client.get(f"{POSTS}/{post['id']}").get_data()  # renews the trust lease outside the figures
    trips = RoundTrips(app)
    cache = trips.cache
    response = client.patch(f"{POSTS}/{post['id']}", json={"title": "Edited"})
    assert response.status_code == 200 and response.get_json()["title"] == "Edited"
    # Two: the session (cached sessions read it through the value cache, as a Redis session
    # store would with its GET) and the invalidation. The answer is read from the database
    # after the commit, not through the service cache.
    assert trips.cache - cache == 2
