# mypy: allow-untyped-defs, allow-incomplete-defs
"""The circuit breaker, driven by a fake clock: no sleeps, no Redis."""

from __future__ import annotations

import logging
import threading

import pytest
from flask_response_cache.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from flask_response_cache.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, reset_timeout=5.0, clock=clock)


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def test_starts_closed_and_lets_calls_through(breaker):
    assert breaker.state == CLOSED
    assert all(breaker.allow() for _ in range(10))


def test_opens_after_threshold_consecutive_failures(breaker):
    fail(breaker, 2)
    assert breaker.state == CLOSED
    fail(breaker)
    assert breaker.state == OPEN
    assert breaker.is_open
    assert not breaker.allow()


def test_a_success_resets_the_failure_count(breaker):
    fail(breaker, 2)
    assert breaker.allow()
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state == CLOSED


def test_a_timeout_trips_at_once(breaker):
    assert breaker.allow()
    breaker.trip()
    assert breaker.state == OPEN
    assert not breaker.allow()


def test_open_refuses_until_reset_timeout_then_half_open(breaker, clock):
    breaker.trip()
    clock.advance(4.999)
    assert not breaker.allow()
    assert breaker.retry_after() == pytest.approx(0.001, abs=1e-6)
    clock.advance(0.001)
    assert breaker.state == HALF_OPEN
    assert not breaker.is_open


def test_half_open_lets_exactly_one_probe_through(breaker, clock):
    breaker.trip()
    clock.advance(5)
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()


def test_probe_success_closes_and_notifies_listeners(breaker, clock):
    closed: list[str] = []
    breaker.on_close(lambda: closed.append("closed"))
    breaker.trip()
    clock.advance(5)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED
    assert closed == ["closed"]
    assert breaker.allow() and breaker.allow()


def test_probe_failure_reopens_for_a_full_period(breaker, clock):
    breaker.trip()
    clock.advance(5)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    clock.advance(4.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()


def test_a_lost_probe_is_replaced_after_reset_timeout(breaker, clock):
    breaker.trip()
    clock.advance(5)
    assert breaker.allow()  # this prober never reports (its thread died)
    clock.advance(4.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.allow()


def test_release_frees_the_probe_without_a_verdict(breaker, clock):
    breaker.trip()
    clock.advance(5)
    assert breaker.allow()
    breaker.release()
    assert breaker.state == HALF_OPEN
    assert breaker.allow()


def test_outcomes_reported_while_open_change_nothing(breaker, clock):
    breaker.trip()
    breaker.record_success()  # a call admitted before the trip, finishing late
    assert breaker.state == OPEN
    breaker.record_failure()
    clock.advance(5)
    assert breaker.state == HALF_OPEN


def test_success_while_closed_does_not_notify(breaker):
    notified: list[int] = []
    breaker.on_close(lambda: notified.append(1))
    assert breaker.allow()
    breaker.record_success()
    assert notified == []


def test_one_log_line_per_state_change(breaker, clock, caplog):
    caplog.set_level(logging.WARNING, logger="redis.breaker")
    fail(breaker, 3)
    for _ in range(50):
        breaker.allow()
        breaker.record_failure()
    clock.advance(5)
    for _ in range(10):
        breaker.allow()
    breaker.record_success()
    for _ in range(10):
        breaker.allow()
        breaker.record_success()
    lines = [r.getMessage() for r in caplog.records if r.name == "redis.breaker"]
    assert lines == [
        "circuit redis: closed -> open",
        "circuit redis: open -> half_open",
        "circuit redis: half_open -> closed",
    ]


def test_concurrent_half_open_admits_one_probe(breaker, clock):
    breaker.trip()
    clock.advance(5)
    admitted: list[bool] = []
    barrier = threading.Barrier(16)

    def contend() -> None:
        barrier.wait()
        admitted.append(breaker.allow())

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1


@pytest.mark.parametrize(("threshold", "reset"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_rejects_nonsense_settings(threshold, reset):
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=threshold, reset_timeout=reset)


# -- background probing: requests never probe; a thread of the process does ------------------


class Dependency:
    """A probe target that is down until told otherwise, counting the probes it gets."""

    def __init__(self) -> None:
        self.up = False
        self.probes = 0

    def ping(self) -> None:
        self.probes += 1
        if not self.up:
            raise ConnectionError("down")


def probing(clock, dependency, **options):
    return CircuitBreaker(
        reset_timeout=5.0, clock=clock, probe=dependency.ping, background=False, **options
    )


def test_with_a_probe_no_request_is_ever_let_through_while_open(clock):
    dependency = Dependency()
    breaker = probing(clock, dependency)
    breaker.trip()
    clock.advance(60)  # far past reset_timeout: still no request-borne probe
    assert breaker.state == OPEN and not breaker.allow()
    assert dependency.probes == 0


def test_a_failed_probe_keeps_it_open_and_a_good_one_closes_it(clock):
    dependency = Dependency()
    breaker = probing(clock, dependency)
    closed = []
    breaker.on_close(lambda: closed.append(True))
    breaker.trip()
    assert breaker.probe_now() is False and breaker.is_open
    dependency.up = True
    assert breaker.probe_now() is True
    assert breaker.state == CLOSED and breaker.allow() and closed == [True]
    assert breaker.probe_now() is True and dependency.probes == 2  # closed: no probe


def test_the_prober_thread_closes_the_circuit_soon_after_recovery():
    dependency = Dependency()
    breaker = CircuitBreaker(probe=dependency.ping, probe_interval=0.02)
    closed = threading.Event()
    breaker.on_close(closed.set)
    breaker.trip()
    assert not closed.wait(0.1)  # down: it keeps probing, once per interval
    assert 2 <= dependency.probes <= 10
    dependency.up = True
    assert closed.wait(2.0)
    assert breaker.state == CLOSED
