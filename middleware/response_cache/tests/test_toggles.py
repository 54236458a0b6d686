# mypy: allow-untyped-defs, allow-incomplete-defs
"""Runtime toggles (``toggles.py``): per-route enable/disable/TTL, read at most once per
refresh period, the last known ones kept while the store is down."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_response_cache import (
    Layout,
    MemoryStorage,
    RedisStorage,
    ResponseCache,
    RouteToggle,
    cache_response,
    connect_redis,
)
from flask_response_cache.state import state_for
from flask_response_cache.toggles import StorageToggleStore, ToggleView


class CountingStore(StorageToggleStore):
    """The real storage-backed store, counting how often it is read."""

    def __init__(self, storage) -> None:
        super().__init__(storage)
        self.version_reads = 0
        self.loads = 0

    def version(self) -> int:
        self.version_reads += 1
        return super().version()

    def load(self):
        self.loads += 1
        return super().load()


def test_version_is_read_at_most_once_per_refresh_and_the_hash_only_when_it_moved(clock):
    store = CountingStore(MemoryStorage())
    view = ToggleView(store, refresh=0.5, monotonic=clock)
    assert view.get("a") is None
    assert (store.version_reads, store.loads) == (1, 1)
    for _ in range(10):
        view.get("a")
    clock.advance(0.49)
    view.get("a")
    assert store.version_reads == 1  # still inside the refresh period
    clock.advance(0.01)
    view.get("a")
    assert (store.version_reads, store.loads) == (2, 1)  # version unchanged: no reload
    store.save("a", RouteToggle(enabled=False))
    assert view.get("a") is None  # seen at the next check, not before
    clock.advance(0.5)
    assert view.get("a") == RouteToggle(enabled=False)
    assert (store.version_reads, store.loads) == (3, 2)


def test_the_last_known_toggles_stay_in_force_while_the_store_is_down(clock, redis_server):
    store = StorageToggleStore(RedisStorage(connect_redis(redis_server.url, 0.2), Layout()))
    store.save("a", RouteToggle(enabled=False))
    view = ToggleView(store, refresh=0.5, monotonic=clock)
    assert view.get("a") == RouteToggle(enabled=False)
    redis_server.kill()
    clock.advance(1)
    assert view.get("a") == RouteToggle(enabled=False)


@pytest.fixture
def app(standalone):
    app = standalone()
    app.calls = 0

    @app.get("/items")
    @cache_response(ttl=60, tags=["items"], scope="public")
    def items():
        app.calls += 1
        return {"call": app.calls}

    return app


def toggle(app, **changes) -> None:
    state = state_for(app)
    state.toggles.store.save("items", RouteToggle(**changes))
    state.toggles.reload()


def test_a_disabled_route_neither_serves_nor_stores(app):
    client = app.test_client()
    client.get("/items")
    toggle(app, enabled=False)
    for _ in range(2):
        answer = client.get("/items")
        assert answer.headers["X-Cache"] == "BYPASS"
        assert answer.headers["Cache-Status"].endswith("fwd=bypass; detail=disabled")
    assert app.calls == 3
    state_for(app).core.apply(["items"])
    toggle(app, enabled=True)
    assert client.get("/items").headers["X-Cache"] == "MISS"  # nothing stored while disabled


def test_a_ttl_toggle_applies_to_new_entries(app):
    toggle(app, ttl=7)
    assert app.test_client().get("/items").headers["Cache-Control"] == "public, max-age=7"


def test_an_app_can_supply_its_own_toggle_store(standalone, memory_core):
    shared = StorageToggleStore(MemoryStorage())
    shared.save("items", RouteToggle(enabled=False))
    app = Flask("custom")
    ResponseCache(app, core=memory_core, toggle_store=shared)

    @app.get("/items")
    @cache_response(ttl=60, scope="public")
    def items():
        return {}

    assert app.test_client().get("/items").headers["Cache-Status"].endswith("detail=disabled")
