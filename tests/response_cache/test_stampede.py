"""Stampede control: 200 concurrent cold requests run the view once."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask_response_cache import cache_response
from flask_response_cache.state import state_for
from werkzeug.serving import make_server

CLIENTS = 200


class Arrivals:
    """WSGI middleware counting requests that reached the app (a test probe, not a clock)."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self, environ, start_response):
        with self.changed:
            self.count += 1
            self.changed.notify_all()
        return self.app(environ, start_response)


def fetch(url: str) -> tuple[int, str, float]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        return answer.status, answer.headers["X-Cache"], time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["redis", "embedded"])
def test_concurrent_cold_requests_run_the_view_once(make_app, request, storage):
    redis = request.getfixturevalue("redis_server") if storage == "redis" else None
    # 200 concurrent threads in ONE process need a pool that large; production sync workers
    # hold one connection each.
    app = make_app(redis=redis, REDIS_MAX_CONNECTIONS=256)
    executions = []
    release = threading.Event()

    @cache_response(ttl=60, scope="public", tags=["slow"])
    def slow_view():
        executions.append(threading.get_ident())
        release.wait(30)  # held until every request is in flight
        return {"computed": len(executions)}

    app.add_url_rule("/api/v1/test-slow", view_func=slow_view)
    core = state_for(app).core
    core.wait_timeout = 30.0  # waiters outlast the test's set-up
    # 200 waiting threads in ONE process share the client's 32-connection pool, whose checkout
    # wait is bounded (0.25 s): polling every 10 ms would queue them past it. Real deployments
    # spread waiters over processes (sync workers) or a handful of threads per process.
    core.wait_step = 0.05
    arrivals = Arrivals(app.wsgi_app)
    app.wsgi_app = arrivals
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/test-slow"
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(fetch, url) for _ in range(CLIENTS)]
            with arrivals.changed:
                assert arrivals.changed.wait_for(lambda: arrivals.count >= CLIENTS, timeout=60)
            release.set()
            results = [future.result() for future in futures]
    finally:
        release.set()
        server.shutdown()
        serving.join(10)
    outcomes = Counter(state for _, state, _ in results)
    latencies = sorted(elapsed for _, _, elapsed in results)
    print(
        f"stampede[{storage}]: executions={len(executions)} outcomes={dict(outcomes)} "
        f"p50={latencies[CLIENTS // 2]:.3f}s max={latencies[-1]:.3f}s"
    )
    assert len(executions) == 1
    assert {status for status, _, _ in results} == {200}
    assert outcomes == {"MISS": 1, "HIT": CLIENTS - 1}
