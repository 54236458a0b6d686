# mypy: allow-untyped-defs, allow-incomplete-defs
"""The extension object's public API: invalidation, purges, toggles, stats and the value
cache, on the in-process storage and on Redis alike."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask_response_cache import (
    RedisStorage,
    ResponseCache,
    UnknownRoute,
    add_response_tags,
    cache_response,
)


@pytest.fixture(params=["memory", "redis"])
def setup(request: pytest.FixtureRequest, memory_core: Any) -> tuple[Flask, ResponseCache]:
    app = Flask("api")
    app.config["TESTING"] = True
    if request.param == "redis":
        app.config["RESPONSE_CACHE_REDIS_URL"] = request.getfixturevalue("redis_server").url
        cache = ResponseCache(app)
    else:
        cache = ResponseCache(app, core=memory_core)
    app.calls = 0  # type: ignore[attr-defined]

    @app.get("/items/<int:item_id>")
    @cache_response(ttl=60, scope="public", tags=["items", "item:{item_id}"])
    def item(item_id: int) -> dict[str, Any]:
        app.calls += 1  # type: ignore[attr-defined]
        return {"id": item_id, "calls": app.calls}  # type: ignore[attr-defined]

    @app.get("/list")
    @cache_response(ttl=60, scope="public", tags=["items"])
    def listing() -> dict[str, Any]:
        add_response_tags("item:7")  # what the data revealed
        return {"calls": app.calls}  # type: ignore[attr-defined]

    return app, cache


def x_cache(app: Flask, path: str) -> str:
    return str(app.test_client().get(path).headers["X-Cache"])


def test_invalidate_tags_clears_the_tagged_entries_only(setup):
    app, cache = setup
    for path in ("/items/1", "/items/2"):
        app.test_client().get(path)
    with app.app_context():
        assert cache.invalidate_tags("item:1") is True
    assert x_cache(app, "/items/1") == "MISS"
    assert x_cache(app, "/items/2") == "HIT"
    assert cache.invalidate_tags("items", app=app)  # outside an app context, by app
    assert x_cache(app, "/items/2") == "MISS"


def test_tags_added_by_the_view_invalidate_its_entry(setup):
    app, cache = setup
    app.test_client().get("/list")
    cache.invalidate_tags("item:7", app=app)
    assert x_cache(app, "/list") == "MISS"


def test_purge_by_key_tag_and_pattern(setup):
    app, cache = setup
    for path in ("/items/1", "/items/2", "/list"):
        app.test_client().get(path)
    names = cache.purge(pattern="http:item:*", dry_run=True, app=app)
    assert len(names) == 2 and all(name.startswith("http:item:") for name in names)
    assert x_cache(app, "/items/1") == "HIT"  # a dry run deletes nothing
    assert cache.purge(key=names[0], app=app) == [names[0]]
    assert cache.purge(tag="items", app=app) == ["items"]
    assert (x_cache(app, "/items/1"), x_cache(app, "/list")) == ("MISS", "MISS")
    assert len(cache.purge(pattern="http:item:*", app=app)) == 1  # /items/1, stored again
    assert cache.purge(pattern="http:item:*", dry_run=True, app=app) == []
    with pytest.raises(TypeError):
        cache.purge(key="a", tag="b", app=app)


def test_routes_and_set_route(setup):
    app, cache = setup
    app.test_client().get("/items/1")
    routes = {route.endpoint: route for route in cache.routes(app=app)}
    assert set(routes) == {"item", "listing"}
    assert (routes["item"].scope, routes["item"].ttl, routes["item"].enabled) == (
        "public",
        60,
        True,
    )
    assert routes["item"].counters["miss"] == 1
    off = cache.set_route("item", enabled=False, app=app)
    assert off.enabled is False
    assert app.test_client().get("/items/1").headers["Cache-Status"].endswith("detail=disabled")
    assert cache.set_route("item", enabled=True, ttl=5, app=app).ttl == 5
    assert app.test_client().get("/items/1").headers["Cache-Control"].startswith("public, max-age=")
    with pytest.raises(UnknownRoute):
        cache.set_route("nope", enabled=False, app=app)
    with pytest.raises(ValueError):
        cache.set_route("item", ttl=0, app=app)


def test_stats_count_endpoints_values_and_the_journal(setup):
    app, cache = setup
    client = app.test_client()
    client.get("/items/1")
    client.get("/items/1")
    cache.get_or_set("answer", lambda: 42, ttl=30, app=app)
    cache.get_or_set("answer", lambda: 42, ttl=30, app=app)
    stats = cache.stats(app=app)
    assert stats["endpoints"]["item"]["hit"] == 1 and stats["endpoints"]["item"]["store"] == 1
    assert (stats["endpoints"]["values"]["miss"], stats["endpoints"]["values"]["hit"]) == (1, 1)
    assert stats["invalidations"] == {"pending": 0, "replayed": 0}


def test_the_value_cache_caches_json_and_honours_tags(setup):
    app, cache = setup
    loads = []

    def load() -> dict[str, Any]:
        loads.append(1)
        return {"total": len(loads), "items": [1, 2]}

    first = cache.get_or_set("report", load, ttl=30, tags=lambda value: ["items"], app=app)
    again = cache.get_or_set("report", load, ttl=30, app=app)
    assert first == again == {"total": 1, "items": [1, 2]}
    cache.invalidate_tags("items", app=app)
    assert cache.get_or_set("report", load, ttl=30, app=app)["total"] == 2
    cache.invalidate_keys("report", app=app)
    assert cache.get_or_set("report", load, ttl=30, app=app)["total"] == 3
    assert cache.get_or_set("nothing", lambda: None, ttl=30, app=app) is None
    with pytest.raises(ValueError, match="http:"):
        cache.get_or_set("http:nope", load, ttl=30, app=app)


def test_the_value_cache_computes_once_for_concurrent_callers(redis_server):
    app = Flask("single-flight")
    app.config.update(TESTING=True, RESPONSE_CACHE_REDIS_URL=redis_server.url)
    cache = ResponseCache(app)
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return 7

    results: list[int] = []

    def caller() -> None:
        results.append(cache.get_or_set("slow", slow, ttl=30, app=app))

    first = threading.Thread(target=caller)
    first.start()
    assert started.wait(5)
    others = [threading.Thread(target=caller) for _ in range(4)]
    for thread in others:
        thread.start()
    release.set()
    for thread in (first, *others):
        thread.join(10)
    assert results == [7] * 5
    assert len(calls) == 1


def test_a_redis_storage_can_be_handed_in_to_share_a_client(redis_server):
    from flask_response_cache import CircuitBreaker, Layout, connect_redis

    client = connect_redis(redis_server.url)
    breaker = CircuitBreaker()
    app = Flask("shared-client")
    app.config["TESTING"] = True
    ResponseCache(app, storage=RedisStorage(client, Layout("mine"), breaker=breaker))

    @app.get("/x")
    @cache_response(ttl=60, scope="public")
    def x() -> dict[str, str]:
        return {}

    app.test_client().get("/x")
    assert x_cache(app, "/x") == "HIT"
    assert list(redis_server.client().scan_iter(match="{mine}:e:*", count=100))
