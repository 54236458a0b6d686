"""Metrics and access logs under a real gunicorn with two workers (items 1 and 6).

Contract: with ``PROMETHEUS_MULTIPROC_DIR`` set, every scrape, whichever worker answers it,
reports the requests of all workers (prometheus-client multiprocess mode); every request writes
one JSON access line to the server's stderr, with the id the client sent: buffered by default
(``ACCESS_LOG=buffered``), so an idle worker's lines are there within 1.5 s, and a worker that
exits writes out what it holds.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.observability.conftest import METRICS_TOKEN, metric
from tests.support.gunicorn_server import GunicornServer, seed_sqlite

pytestmark = pytest.mark.slow
REQUESTS = 30


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode(), dict(response.headers)


@pytest.fixture
def server(tmp_path, redis_server):
    metrics_dir = tmp_path / "prometheus"
    env = {
        "DATABASE_URL": seed_sqlite(tmp_path / "app.db", users=3, posts=20, tags=3),
        "REDIS_URL": redis_server.url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_TOKEN": METRICS_TOKEN,
        "RATELIMIT_API": "10000 per minute",
    }
    gunicorn = GunicornServer(env, tmp_path / "gunicorn", workers=2).start()
    yield gunicorn
    gunicorn.stop()


def logged_by(server: GunicornServer, prefix: str, within: float) -> list[dict]:
    """The access lines whose request id starts with ``prefix``, once every one is written."""
    deadline = time.monotonic() + within
    while True:
        lines = [
            json.loads(line) for line in server.log_tail(10**7).splitlines() if line.startswith("{")
        ]
        ours = [line for line in lines if str(line.get("request_id", "")).startswith(prefix)]
        if len(ours) >= REQUESTS or time.monotonic() > deadline:
            return ours
        time.sleep(0.05)  # polling a file another process writes, not standing in for a clock


def test_every_scrape_sees_every_workers_requests(server):
    for i in range(REQUESTS):
        status, _, _ = _get(f"{server.base_url}/api/v1/posts?page=1", {"X-Request-ID": f"mp-{i}"})
        assert status == 200
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    for _ in range(6):  # sync workers: consecutive scrapes land on both of them
        _, text, _ = _get(f"{server.base_url}/metrics", bearer)
        total = sum(
            metric(
                text, "http_request_duration_seconds_count", endpoint="posts.list_posts", cache=c
            )
            for c in ("hit", "miss", "stale", "bypass", "none")
        )
        assert total == REQUESTS, text

    ours = logged_by(server, "mp-", within=3.0)
    assert sorted(line["request_id"] for line in ours) == sorted(f"mp-{i}" for i in range(REQUESTS))
    assert {line["route"] for line in ours} == {"/api/v1/posts"}
    assert all(line["status"] == 200 for line in ours)


def test_a_stopping_worker_writes_out_the_lines_it_buffers(server):
    for i in range(REQUESTS):
        _get(f"{server.base_url}/api/v1/posts?page=1", {"X-Request-ID": f"stop-{i}"})
    server.stop()  # SIGTERM at once: well inside the 1 s a buffered line may wait
    ours = logged_by(server, "stop-", within=0.0)
    assert sorted(line["request_id"] for line in ours) == sorted(
        f"stop-{i}" for i in range(REQUESTS)
    )
