# mypy: allow-untyped-defs, allow-incomplete-defs
"""Configured by ``RESPONSE_CACHE_REDIS_URL`` alone, the cache is production-safe: a hung
Redis costs one short timeout per process, then nothing; an invalidation issued while Redis
is down never raises into the view and is applied before the store is believed again.

Real redis-server processes; SIGSTOP is a hung server (the kernel accepts connections,
replies never come), SIGKILL a dead one. Latencies are measured on the wall clock because
they are what is promised; the bounds are generous multiples of what they should be.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask_response_cache import RedisStorage, ResponseCache, cache_response
from flask_response_cache.state import state_for

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

TIMEOUT = 0.25


def redis_app(url: str, **config: Any) -> Flask:
    app = Flask("redis-only")
    app.config.update(TESTING=True, RESPONSE_CACHE_REDIS_URL=url, **config)
    cache = ResponseCache(app)
    app.calls = 0  # type: ignore[attr-defined]

    @app.get("/items/<int:item_id>")
    @cache_response(ttl=60, scope="public", tags=["items", "item:{item_id}"])
    def item(item_id: int) -> dict[str, Any]:
        app.calls += 1  # type: ignore[attr-defined]
        return {"id": item_id, "version": app.version}  # type: ignore[attr-defined]

    @app.post("/items/<int:item_id>")
    def update(item_id: int) -> dict[str, Any]:
        app.version += 1  # type: ignore[attr-defined]
        applied = cache.invalidate_tags(f"item:{item_id}")
        return {"applied": applied}

    app.version = 1  # type: ignore[attr-defined]
    return app


def timed(client: Any, method: str, path: str) -> tuple[Any, float]:
    started = time.perf_counter()
    response = getattr(client, method)(path)
    response.get_data()
    return response, time.perf_counter() - started


def test_the_url_alone_selects_redis_with_short_timeouts_and_a_breaker(redis_server):
    app = redis_app(redis_server.url)
    storage = state_for(app).core.storage
    assert isinstance(storage, RedisStorage)
    assert storage.breaker is not None
    kwargs = storage.client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (TIMEOUT, TIMEOUT)
    assert storage.client.connection_pool.connection_kwargs["retry"]._retries == 0
    client = app.test_client()
    assert client.get("/items/1").headers["X-Cache"] == "MISS"
    assert client.get("/items/1").headers["X-Cache"] == "HIT"
    assert redis_server.client().keys("{rc}:e:*")  # the entry lives in Redis


@pytest.mark.parametrize("fault", ["hung", "dead"])
def test_a_hung_or_dead_redis_costs_one_short_timeout_then_nothing(redis_server, fault):
    app = redis_app(redis_server.url)
    client = app.test_client()
    client.get("/items/1")
    assert client.get("/items/1").headers["X-Cache"] == "HIT"
    redis_server.pause() if fault == "hung" else redis_server.kill()
    first, first_took = timed(client, "get", "/items/1")
    rest = [timed(client, "get", f"/items/{n}") for n in (1, 2, 1, 3, 1, 2)]
    assert first.status_code == 200 and first.headers["X-Cache"] == "BYPASS"
    assert first_took < TIMEOUT * 2 + 0.2  # at most one timeout (plus a connect on death)
    assert all(r.status_code == 200 and r.headers["X-Cache"] == "BYPASS" for r, _ in rest)
    assert max(took for _, took in rest) < 0.020  # the breaker answers at once
    if fault == "hung":
        redis_server.resume()


def test_an_invalidation_while_redis_is_hung_never_raises_and_is_applied_on_return(
    redis_server,
):
    app = redis_app(redis_server.url, RESPONSE_CACHE_BREAKER_PROBE_INTERVAL=0.05)
    client = app.test_client()
    assert client.get("/items/1").get_json()["version"] == 1
    assert client.get("/items/1").headers["X-Cache"] == "HIT"
    redis_server.pause()
    written, took = timed(client, "post", "/items/1")
    assert written.status_code == 200 and written.get_json() == {"applied": False}
    assert took < TIMEOUT * 2 + 0.2
    during = client.get("/items/1")
    assert during.status_code == 200 and during.get_json()["version"] == 2
    redis_server.resume()
    # The stale entry is still in Redis: the process replays its pending invalidation
    # before it trusts the store again, so no read after the write sees version 1.
    deadline = time.monotonic() + 5
    seen = []
    while time.monotonic() < deadline:
        answer = client.get("/items/1")
        seen.append((answer.headers["X-Cache"], answer.get_json()["version"]))
        if answer.headers["X-Cache"] in ("MISS", "HIT"):
            break
        time.sleep(0.02)  # polling a real server's recovery, not standing in for a clock
    assert all(version == 2 for _, version in seen), seen
    assert seen[-1][0] in ("MISS", "HIT")
    assert client.get("/items/1").get_json()["version"] == 2
    assert state_for(app).core.journal.pending() == []


def test_an_invalidation_while_redis_is_dead_is_applied_after_its_restart(redis_server):
    app = redis_app(redis_server.url, RESPONSE_CACHE_BREAKER_PROBE_INTERVAL=0.05)
    client = app.test_client()
    client.get("/items/1")
    redis_server.save_snapshot()  # the entry survives the restart below
    redis_server.kill()
    assert client.post("/items/1").get_json() == {"applied": False}
    redis_server.restart(from_snapshot=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        answer = client.get("/items/1")
        assert answer.get_json()["version"] == 2
        if answer.headers["X-Cache"] != "BYPASS":
            break
        time.sleep(0.02)  # polling a real server's recovery, not standing in for a clock
    assert client.get("/items/1").get_json()["version"] == 2
