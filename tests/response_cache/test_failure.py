"""Redis dies or hangs mid-test: no 5xx, bounded latency, then back to hits."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Actions

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

POSTS = "/api/v1/posts"
FIRST_REQUEST_BUDGET = 1.0  # one short timeout (0.25 s) per Redis user, then the breaker
NEXT_REQUEST_BUDGET = 0.05
REDIS_TIMEOUT = 0.25


def assert_fast_after_the_first(latencies: list[float]) -> None:
    """Every later request is under 50 ms; one scheduling hiccup on this shared 2-core
    machine is tolerated, a second Redis timeout (>= 0.25 s) never is."""
    slow = {i: round(t, 3) for i, t in enumerate(latencies) if i and t >= NEXT_REQUEST_BUDGET}
    assert len(slow) <= 1, f"slow requests (index: seconds): {slow}"
    assert all(elapsed < REDIS_TIMEOUT for elapsed in slow.values()), f"a second timeout: {slow}"


@pytest.fixture
def app(make_app, redis_server):
    # Sessions in SQL so the author can write while Redis is down; anonymous readers below.
    app = make_app(redis=redis_server, SESSION_BACKEND="sql")
    author = Actions(app).signed_in()
    post = Actions(app).create_post(author, title="Survives Redis")
    app.post_path = f"{POSTS}/{post['id']}"
    return app


def timed(client, path):
    started = time.perf_counter()
    answer = client.get(path)
    return answer, time.perf_counter() - started


def break_redis(redis_server, fault: str) -> None:
    if fault == "kill":
        redis_server.kill()  # SIGKILL: connections refused
    else:
        redis_server.pause()  # SIGSTOP: connections accepted, replies never come


def heal_redis(redis_server, fault: str) -> None:
    if fault == "kill":
        redis_server.start()
    else:
        redis_server.resume()


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_no_5xx_and_bounded_latency_while_redis_is_down(app, redis_server, fault):
    client = app.test_client()
    for path in (POSTS, app.post_path):
        client.get(path)
        assert client.get(path).headers["X-Cache"] == "HIT"

    break_redis(redis_server, fault)
    answers = [timed(client, path) for _ in range(15) for path in (POSTS, app.post_path)]
    latencies = [elapsed for _, elapsed in answers]
    print(
        f"redis {fault}: first {latencies[0] * 1000:.0f} ms, "
        f"then max {max(latencies[1:]) * 1000:.1f} ms"
    )
    assert all(answer.status_code == 200 for answer, _ in answers)
    assert {answer.headers["X-Cache"] for answer, _ in answers} == {"BYPASS"}
    assert all(
        answer.headers["Cache-Status"] == "posts-api; fwd=bypass; detail=unavailable"
        for answer, _ in answers
    )
    assert answers[0][0].get_json()["data"][0]["title"] == "Survives Redis"
    assert latencies[0] <= FIRST_REQUEST_BUDGET
    assert_fast_after_the_first(latencies)

    heal_redis(redis_server, fault)
    healed = time.monotonic()
    deadline = healed + 15
    states = []
    while time.monotonic() < deadline:  # polling the breaker's recovery, not a clock
        answer = client.get(POSTS)
        assert answer.status_code == 200
        states.append(answer.headers["X-Cache"])
        if states[-1] == "HIT":
            break
        time.sleep(0.1)
    print(f"redis {fault}: hits again {time.monotonic() - healed:.1f} s after recovery")
    assert states[-1] == "HIT", states


@pytest.mark.slow
def test_redis_absent_from_the_start(make_app, redis_server):
    redis_server.kill()
    app = make_app(redis=redis_server, SESSION_BACKEND="sql")
    client = app.test_client()
    answers = [timed(client, POSTS) for _ in range(10)]
    assert all(answer.status_code == 200 for answer, _ in answers)
    assert all(answer.headers["X-Cache"] == "BYPASS" for answer, _ in answers)
    assert_fast_after_the_first([elapsed for _, elapsed in answers])
