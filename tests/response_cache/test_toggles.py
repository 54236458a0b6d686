"""Runtime toggles: per-route enable/disable/TTL, honoured everywhere within a second."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask_response_cache import Layout, RedisStorage, RouteToggle
from flask_response_cache.toggles import StorageToggleStore

from tests.support.gunicorn_server import GunicornServer, seed_sqlite

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
