"""The shared Redis client and its breaker, against a real redis-server that dies and hangs.

Timings are measured with perf_counter around real calls (measurement, not sleeps).
"""

from __future__ import annotations

import time

import pytest
import redis
from flask_response_cache.breaker import CLOSED, OPEN, CircuitBreaker

from redis_link import CircuitOpenError, RedisLink, build_client, link_from_config
from tests.support.fake_clock import FakeClock

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

TIMEOUT = 0.25


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def link(redis_server, clock):
    link = RedisLink(
        build_client(redis_server.url, TIMEOUT),
        CircuitBreaker(failure_threshold=3, reset_timeout=5.0, clock=clock),
        redis_server.url,
    )
    yield link
    link.close()


def timed(fn):
    start = time.perf_counter()
    try:
        return fn(), time.perf_counter() - start
    except redis.RedisError as exc:
        return exc, time.perf_counter() - start


def test_client_has_short_timeouts_no_retries_and_a_bounded_pool(redis_server):
    client = build_client(redis_server.url, TIMEOUT)
    pool = client.connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.max_connections == 32
    assert pool.timeout == TIMEOUT
    kwargs = pool.connection_kwargs
    assert kwargs["socket_timeout"] == TIMEOUT
    assert kwargs["socket_connect_timeout"] == TIMEOUT
    assert kwargs["retry"].get_retries() == 0
    client.close()


def test_a_dead_server_fails_fast(redis_server):
    client = build_client(redis_server.url, TIMEOUT)
    redis_server.kill()
    error, elapsed = timed(client.ping)
    assert isinstance(error, redis.ConnectionError)
    assert elapsed < 0.1  # refused at once, and no retry storm
    client.close()


def test_a_hung_server_costs_one_timeout(redis_server):
    client = build_client(redis_server.url, TIMEOUT)
    assert client.ping()
    redis_server.pause()
    error, elapsed = timed(client.ping)
    assert isinstance(error, redis.TimeoutError)
    assert TIMEOUT * 0.9 < elapsed < TIMEOUT * 2.5  # one timeout, not ten
    client.close()


def test_execute_returns_results_and_call_fails_open(link):
    assert link.execute(lambda c: c.set("k", "v"))
    assert link.call(lambda c: c.get("k")) == (True, b"v")


def test_one_timeout_opens_the_circuit_then_calls_cost_nothing(link, redis_server):
    assert link.ping()
    redis_server.pause()
    _, first = timed(lambda: link.execute(lambda c: c.get("k")))
    assert link.breaker.state == OPEN
    assert first < TIMEOUT * 2.5
    for _ in range(20):
        error, elapsed = timed(lambda: link.execute(lambda c: c.get("k")))
        assert isinstance(error, CircuitOpenError)
        assert elapsed < 0.005
    assert not link.available
    assert link.call(lambda c: c.get("k")) == (False, None)


def test_a_refused_connection_opens_the_circuit_at_once(link, redis_server):
    redis_server.kill()
    error, _ = timed(lambda: link.execute(lambda c: c.ping()))
    assert isinstance(error, redis.ConnectionError)
    assert not isinstance(error, CircuitOpenError)
    assert link.breaker.state == OPEN
    assert isinstance(timed(lambda: link.execute(lambda c: c.ping()))[0], CircuitOpenError)


def test_recovery_is_probed_once_after_the_reset_timeout(link, redis_server, clock):
    link.execute(lambda c: c.set("k", "v"))
    redis_server.pause()
    assert link.call(lambda c: c.get("k")) == (False, None)
    redis_server.resume()
    assert link.call(lambda c: c.get("k")) == (False, None)  # still open: no probe yet
    assert link.retry_after() == 5
    clock.advance(5)
    assert link.call(lambda c: c.get("k")) == (True, b"v")  # the probe
    assert link.breaker.state == CLOSED


def test_a_restarted_server_is_used_again_without_errors(link, redis_server):
    link.execute(lambda c: c.set("k", "v"))
    redis_server.restart()
    # The pool notices its stale connection at checkout and reconnects.
    assert link.call(lambda c: c.set("k", "w")) == (True, True)
    assert link.breaker.state == CLOSED


def test_a_non_redis_error_frees_the_probe(link, redis_server, clock):
    link.breaker.trip()
    clock.advance(5)

    def broken(_client):
        raise KeyError("bug in the caller")

    with pytest.raises(KeyError):
        link.execute(broken)
    assert link.ping()  # the probe slot was released, so this probe ran


def test_link_from_config_is_none_in_embedded_mode():
    config = {"REDIS_URL": None, "REDIS_TIMEOUT": TIMEOUT}
    assert link_from_config(config) is None


def test_health_reports_redis_from_the_breaker(make_app, redis_server):
    clock = FakeClock()
    app = make_app(redis=redis_server, CLOCK=clock)
    client = app.test_client()
    assert client.get("/api/v1/health").get_json()["redis"] == "up"
    redis_server.pause()
    body, elapsed = timed(lambda: client.get("/api/v1/health").get_json())
    assert body["redis"] == "down"
    assert elapsed < 1.0
    body, elapsed = timed(lambda: client.get("/api/v1/health").get_json())
    assert body["redis"] == "down"
    assert elapsed < 0.05  # circuit open: no network at all
    redis_server.resume()
    app.extensions["redis_link"].breaker.probe_now()  # the worker's prober runs
    assert client.get("/api/v1/health").get_json()["redis"] == "up"
