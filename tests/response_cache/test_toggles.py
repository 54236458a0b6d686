"""Runtime toggles: per-route enable/disable/TTL, honoured everywhere within a second."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from middleware.response_cache import (
    Layout,
    MemoryStorage,
    RedisStorage,
    RouteToggle,
    StorageToggleStore,
    cache_response,
    state_for,
)
from middleware.response_cache.toggles import ToggleView
from redis_link import build_client
from tests.support.gunicorn_server import GunicornServer, seed_sqlite


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
    store = StorageToggleStore(RedisStorage(build_client(redis_server.url, 0.2), Layout()))
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
    @cache_response(ttl=60, tags=["items"])
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
    state_for(app).core.invalidate_tags(["items"])
    toggle(app, enabled=True)
    assert client.get("/items").headers["X-Cache"] == "MISS"  # nothing stored while disabled


def test_a_ttl_toggle_applies_to_new_entries(app):
    toggle(app, ttl=7)
    assert app.test_client().get("/items").headers["Cache-Control"] == "public, max-age=7"


def test_an_app_can_supply_its_own_toggle_store(standalone, memory_core):
    from flask import Flask

    from middleware.response_cache import ResponseCache

    shared = StorageToggleStore(MemoryStorage())
    shared.save("items", RouteToggle(enabled=False))
    app = Flask("custom")
    ResponseCache(app, core=memory_core, toggle_store=shared)

    @app.get("/items")
    @cache_response(ttl=60)
    def items():
        return {}

    assert app.test_client().get("/items").headers["Cache-Status"].endswith("detail=disabled")


# -- across processes: two gunicorn workers sharing one Redis ------------------------------------


def worker_cpu_ticks(master_pid: int) -> dict[int, int]:
    """CPU ticks (user + system) of each child of ``master_pid``, from /proc."""
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    return ticks


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.headers["X-Cache"]


@pytest.mark.slow
def test_a_toggle_reaches_every_gunicorn_worker_within_one_second(tmp_path, redis_server):
    database = seed_sqlite(tmp_path / "toggles.db", users=3, posts=30, tags=5)
    env = {
        "REDIS_URL": redis_server.url,
        "DATABASE_URL": database,
        "RATELIMIT_API": "100000 per minute",
    }
    server = GunicornServer(env, tmp_path / "gunicorn", workers=2).start()
    url = f"{server.base_url}/api/v1/posts"
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            warm = list(pool.map(lambda _: fetch(url), range(40)))
            assert warm.count("HIT") >= 30, warm
            master = int(server.pidfile.read_text())
            assert len(worker_cpu_ticks(master)) == 2

            store = StorageToggleStore(RedisStorage(redis_server.client(), Layout("rc")))
            store.save("posts.list_posts", RouteToggle(enabled=False))
            flipped = time.monotonic()
            results: list[tuple[float, str]] = []
            lock = threading.Lock()
            ticks_at_one_second: dict[int, int] = {}

            def poll() -> None:
                while (now := time.monotonic() - flipped) < 1.6:
                    if now >= 1.0 and not ticks_at_one_second:
                        with lock:
                            ticks_at_one_second.update(worker_cpu_ticks(master))
                    state = fetch(url)
                    with lock:
                        results.append((time.monotonic() - flipped, state))

            list(pool.map(lambda _: poll(), range(4)))
            ticks_at_end = worker_cpu_ticks(master)
    finally:
        server.stop()
    last_cached = max((at for at, state in results if state != "BYPASS"), default=0.0)
    print(f"toggle: {len(results)} requests, last non-BYPASS answer at +{last_cached:.3f} s")
    late = [state for at, state in results if at >= 1.0]
    assert len(late) >= 20, results
    assert set(late) == {"BYPASS"}, [r for r in results if r[1] != "BYPASS"]
    # both workers served requests in the last window (their CPU time moved)
    assert all(ticks_at_end[pid] > ticks for pid, ticks in ticks_at_one_second.items()), (
        ticks_at_one_second,
        ticks_at_end,
        os.cpu_count(),
    )
