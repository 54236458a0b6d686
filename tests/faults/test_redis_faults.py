"""Real Redis faults under real gunicorn workers: what a client sees, measured.

For every fault below, while anonymous clients read the first list page and one
post and a logged-in author edits that post (``SESSION_BACKEND=sql``, so writes
do not depend on Redis):

- zero 5xx (a public read or an SQL-session write never needs Redis);
- latency: the first request each worker serves after the fault starts costs at
  most one short timeout (``FIRST_REQUEST_BUDGET_MS``); the other requests stay
  under 20 ms extra over the healthy median (median of the extra; p95 under 50 ms,
  generous for a busy 2-core machine) and none pays a timeout
  (``OTHER_REQUEST_MAX_MS``). While a worker's circuit is open its prober
  PINGs Redis in the background (every 0.25 s), so no request waits on a probe;
- no stale read: no read sent after a write was acknowledged returns older data,
  during the fault or after it;
- recovery: back to cache hits within 2 s of the fault's end (the probes run every
  0.25 s; the rest is slack for a busy machine), measured and reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    Http,
    Reply,
    Workload,
    WriteLog,
    Writer,
    cache_states,
    five_xx,
    latency_figures,
    pick_post,
    redis_commands,
    served_by,
    wait_for_log,
)
from tests.support.gunicorn_server import GunicornServer
from tests.support.redis_server import RedisServer

FIRST_REQUEST_BUDGET_MS = 600.0  # one 0.25 s timeout, plus a busy 2-core machine's noise
EXTRA_P50_BUDGET_MS = 20.0  # the "under 20 ms extra", on the median (robust)
EXTRA_P95_BUDGET_MS = 50.0  # generous: a noisy 2-core box running client and servers
OTHER_REQUEST_MAX_MS = 200.0  # no request but a worker's first may wait on Redis
# Each worker's prober PINGs every REDIS_PROBE_INTERVAL (0.25 s) while its breaker is open:
# back to hits within a second, plus slack for this shared 2-core machine.
RECOVERY_BUDGET_S = 2.0
WRITE_BUDGET_MS = 1500.0  # a write during an outage waits one trust lease (0.5 s)
WINDOW_S = 3.0

pytestmark = pytest.mark.slow


@dataclass
class Stack:
    redis: RedisServer
    server: GunicornServer
    http: Http
    writer: Writer
    workload: Workload


def build_stack(redis: RedisServer, server: GunicornServer) -> Stack:
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    return Stack(redis, server, http, writer, Workload(http, post_id, log))


@pytest.fixture
def stack(redis_server: RedisServer, sqlite_database: Any, deploy: Any) -> Stack:
    server = deploy(sqlite_database.url, redis_server.url, SESSION_BACKEND="sql")
    return build_stack(redis_server, server)


@dataclass
class Fault:
    name: str
    description: str
    inject: Callable[[RedisServer], None]
    heal: Callable[[RedisServer], float | None]  # when the fault ended (None: now)
    catalogue: tuple[int, ...]


class ClientPause:
    """CLIENT PAUSE for the length of the fault window. Redis 7.0 holds every
    command while paused, ``CLIENT UNPAUSE`` included, so the pause is given the
    window's length and ends by itself; ``unpause`` reports when it ended."""

    def __init__(self, mode: str, seconds: float) -> None:
        self.mode = mode
        self.seconds = seconds
        self.paused_at = 0.0

    def pause(self, redis: RedisServer) -> None:
        redis.client().execute_command("CLIENT", "PAUSE", int(self.seconds * 1000), self.mode)
        self.paused_at = time.perf_counter()

    def unpause(self, redis: RedisServer) -> float:
        return self.paused_at + self.seconds


def _out_of_memory(redis: RedisServer) -> None:
    client = redis.client()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")


def _memory_back(redis: RedisServer) -> None:
    redis.client().config_set("maxmemory", "0")


def _nothing(redis: RedisServer) -> None:
    pass


def _start(redis: RedisServer) -> None:
    redis.start()


def _resume(redis: RedisServer) -> None:
    redis.resume()


FAULTS = [
    Fault("killed", "SIGKILL; started again 3 s later", RedisServer.kill, _start,
          (2, 18, 19)),
    Fault("hung", "SIGSTOP (TCP accepts, replies never come); SIGCONT 3 s later",
          RedisServer.pause, _resume, (3, 18, 19)),
    Fault("paused-all", "CLIENT PAUSE 3000 ALL (every command held for 3 s)",
          (all_ := ClientPause("ALL", WINDOW_S)).pause, all_.unpause, (13, 18)),
    Fault("paused-write", "CLIENT PAUSE 3000 WRITE (writes and scripts held for 3 s)",
          (write := ClientPause("WRITE", WINDOW_S)).pause, write.unpause, (13, 18)),
    Fault("out-of-memory", "CONFIG SET maxmemory 1, noeviction (OOM errors on every "
          "write); maxmemory 0 3 s later", _out_of_memory, _memory_back, (14, 18)),
    Fault("restarted-empty", "SIGKILL and an immediate restart without data",
          lambda redis: redis.restart(from_snapshot=False), _nothing, (15,)),
]  # fmt: skip


@dataclass
class Outcome:
    baseline: list[Reply]
    window: list[Reply]
    recovery: list[Reply]
    recovery_s: float | None
    writes: list[Reply]
    figures: dict[str, Any]


def run_fault(
    stack: Stack, inject: Callable[[], None], heal: Callable[[], float | None]
) -> Outcome:
    """Warm, baseline, fault window with a write, heal, recover, write again."""
    workload, writer = stack.workload, stack.writer
    assert writer.write("before").status == 200
    workload.warm()
    baseline = workload.run(seconds=1.0)
    inject()
    window = workload.run(seconds=WINDOW_S, writes_at=[1.0], writer=writer)
    healed = heal() or time.perf_counter()
    recovery_s = workload.recover(healed, within=RECOVERY_BUDGET_S + 3)
    recovery_replies = workload.read_once()
    writer.write("after")
    recovery_replies += workload.read_once()
    everything = baseline + window + recovery_replies + writer.replies
    wait_for_log(stack.server, (reply.probe for reply in everything))
    workers = served_by(stack.server)
    figures: dict[str, Any] = {
        "requests": len(window),
        "5xx": five_xx(everything),
        "redis_5xx": five_xx(everything),
        **latency_figures(baseline, window, workers),
        "write_ms": [round(reply.ms) for reply in writer.replies],
        "stale_reads": len(workload.stale),
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
        "x_cache_during": cache_states(window),
    }
    return Outcome(baseline, window, recovery_replies, recovery_s, writer.replies, figures)


def assert_contract(outcome: Outcome, stack: Stack) -> None:
    figures = outcome.figures
    assert figures["redis_5xx"] == 0, [r for r in outcome.window if r.status >= 500][:3]
    assert all(reply.status == 200 for reply in outcome.writes), outcome.writes
    assert figures["stale_reads"] == 0, stack.workload.stale
    assert figures["first_request_max_ms"] <= FIRST_REQUEST_BUDGET_MS, figures
    assert figures["extra_p50_ms"] < EXTRA_P50_BUDGET_MS, figures
    assert figures["extra_p95_ms"] < EXTRA_P95_BUDGET_MS, figures
    assert figures["extra_max_ms"] < OTHER_REQUEST_MAX_MS, figures
    assert max(reply.ms for reply in outcome.writes) < WRITE_BUDGET_MS, figures
    assert outcome.recovery_s is not None and outcome.recovery_s <= RECOVERY_BUDGET_S, figures


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_redis_fault_costs_no_error_no_stale_read_and_one_timeout(
    fault: Fault, stack: Stack, reliability_case: Any
) -> None:
    outcome = run_fault(stack, lambda: fault.inject(stack.redis), lambda: fault.heal(stack.redis))
    figures = outcome.figures
    reliability_case.record(
        case=f"redis-{fault.name}",
        fault=fault.description,
        behaviour=(
            f"reads answered 200 ({_states(figures['x_cache_during'])}); the write during the "
            f"fault took {figures['write_ms'][1]} ms and was never read stale; cache hits "
            f"again {figures['recovery_s']} s after the fault ended"
        ),
        catalogue=fault.catalogue,
        **figures,
    )
    assert_contract(outcome, stack)


def _states(states: dict[str, int]) -> str:
    return ", ".join(f"{count} {state}" for state, count in sorted(states.items()))


def test_restart_from_an_older_snapshot_never_serves_the_resurrected_entries(
    stack: Stack, reliability_case: Any
) -> None:
    redis, workload, writer = stack.redis, stack.workload, stack.writer

    def inject() -> None:
        # The snapshot holds the cached "before" version; the write that follows
        # is acknowledged and invalidated; then Redis comes back from the snapshot.
        redis.save_snapshot()
        assert writer.write("after-snapshot").status == 200
        workload.warm()
        redis.restart(from_snapshot=True)

    outcome = run_fault(stack, inject, lambda: None)  # the restart is the whole fault
    resurrected = [
        key for key in redis.client().scan_iter(match="{rc}:e:*", count=1000) if b":posts:" in key
    ]
    figures = outcome.figures
    reliability_case.record(
        case="redis-restarted-from-older-snapshot",
        fault="SAVE; write v2 (acknowledged, invalidated, re-cached); SIGKILL; restart from "
        "the snapshot holding v1's entries",
        behaviour=(
            "the restart was noticed (new run_id), the store's seq was behind the journal, "
            "so the cache moved to a new epoch: the resurrected entries were never served"
        ),
        catalogue=(16,),
        resurrected_entries=len(resurrected),
        **figures,
    )
    assert_contract(outcome, stack)


def test_slow_redis_below_the_timeout_is_served_above_it_is_down(
    redis_server: RedisServer, sqlite_database: Any, deploy: Any, reliability_case: Any
) -> None:
    from tests.support.tcp_relay import TcpRelay

    relay = TcpRelay(redis_server.port).start()
    try:
        server = deploy(sqlite_database.url, relay.url, SESSION_BACKEND="sql")
        stack = build_stack(redis_server, server)
        workload, writer = stack.workload, stack.writer
        assert writer.write("before").status == 200
        workload.warm()
        direct = redis_server.client()
        before = redis_commands(direct)
        baseline = workload.run(seconds=1.0)
        healthy_calls = (redis_commands(direct) - before - 1) / len(baseline)
        # +100 ms per round trip (50 ms each way): every Redis call still answers.
        relay.latency = 0.05
        before = redis_commands(direct)
        below = workload.run(seconds=WINDOW_S, writes_at=[1.0], writer=writer)
        slow_calls = (redis_commands(direct) - before - 1) / len(below)
        # +400 ms per round trip: above the 0.25 s timeout, so Redis counts as down.
        relay.latency = 0.2
        above = workload.run(seconds=WINDOW_S, writes_at=[1.0], writer=writer)
        relay.latency = 0.0
        healed = time.perf_counter()
        recovery_s = workload.recover(healed, within=RECOVERY_BUDGET_S + 3)
        writer.write("after")
        tail = workload.read_once()
    finally:
        relay.stop()
    everything = baseline + below + above + tail + writer.replies
    wait_for_log(server, (reply.probe for reply in everything))
    workers = served_by(server)
    slow_ms = sorted(reply.ms for reply in below)
    above_figures = latency_figures(baseline, above, workers)
    figures: dict[str, Any] = {
        "requests": len(below) + len(above),
        "5xx": five_xx(everything),
        "redis_5xx": five_xx(everything),
        "redis_commands_per_read_healthy": round(healthy_calls, 1),
        "redis_commands_per_read_slow": round(slow_calls, 1),
        "below_p50_ms": round(slow_ms[len(slow_ms) // 2], 1),
        "below_p95_ms": round(slow_ms[int(len(slow_ms) * 0.95)], 1),
        "below_max_ms": round(slow_ms[-1], 1),
        "x_cache_below": cache_states(below),
        **{key: value for key, value in above_figures.items()},
        "x_cache_above": cache_states(above),
        "write_ms": [round(reply.ms) for reply in writer.replies],
        "stale_reads": len(workload.stale),
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
    }
    reliability_case.record(
        case="redis-slow",
        fault="TCP relay adding 100 ms per round trip (below the 0.25 s timeout) for 3 s, "
        "then 400 ms (above it) for 3 s",
        behaviour=(
            f"below: served from the cache, p95 {figures['below_p95_ms']} ms, each Redis call "
            f"once (no retries); above: one timeout per worker, then bypass at full speed"
        ),
        catalogue=(12,),
        **figures,
    )
    assert figures["redis_5xx"] == 0
    assert figures["stale_reads"] == 0, workload.stale
    assert all(reply.status == 200 for reply in writer.replies), writer.replies
    # Below the timeout nothing times out or trips: the cache keeps answering, slower.
    assert figures["x_cache_below"].get("HIT", 0) > 0, figures
    assert "BYPASS" not in figures["x_cache_below"], figures
    # Each Redis call is paid once (no retries): a hit costs about one added round
    # trip, a fill (lease check, lock, store, release, service cache) up to ~20.
    assert figures["below_p95_ms"] < 2500, figures
    assert figures["first_request_max_ms"] <= FIRST_REQUEST_BUDGET_MS + 400, figures
    assert figures["extra_p50_ms"] < EXTRA_P50_BUDGET_MS, figures
    assert figures["extra_p95_ms"] < EXTRA_P95_BUDGET_MS, figures
    assert recovery_s is not None and recovery_s <= RECOVERY_BUDGET_S, figures


def test_redis_absent_at_start_then_started(
    redis_server: RedisServer, sqlite_database: Any, deploy: Any, reliability_case: Any
) -> None:
    redis_server.kill()  # nothing listens on the configured port
    server = deploy(sqlite_database.url, redis_server.url, SESSION_BACKEND="sql")
    stack = build_stack(redis_server, server)
    workload, writer = stack.workload, stack.writer
    health = stack.http.get("/api/v1/health")
    window = workload.run(seconds=WINDOW_S, writes_at=[1.0], writer=writer)
    redis_server.start()
    started = time.perf_counter()
    recovery_s = workload.recover(started, within=RECOVERY_BUDGET_S + 3)
    writer.write("after")
    workload.warm()
    baseline = workload.run(seconds=1.0)  # healthy, measured after the fact
    everything = [health, *window, *baseline, *writer.replies]
    wait_for_log(server, (reply.probe for reply in everything))
    figures: dict[str, Any] = {
        "requests": len(window),
        "5xx": five_xx(everything),
        "redis_5xx": five_xx(everything),
        "health_redis": health.json().get("redis"),
        **latency_figures(baseline, window, served_by(server)),
        "write_ms": [round(reply.ms) for reply in writer.replies],
        "stale_reads": len(workload.stale),
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
        "x_cache_during": cache_states(window),
    }
    reliability_case.record(
        case="redis-absent-at-start",
        fault="nothing listening on REDIS_URL's port when gunicorn starts; Redis started 3 s "
        "after the first request",
        behaviour=(
            "workers booted, /health said redis=down, reads answered 200 BYPASS from the "
            f"database; hits {figures['recovery_s']} s after Redis started"
        ),
        catalogue=(1,),
        **figures,
    )
    assert figures["health_redis"] == "down"
    assert figures["redis_5xx"] == 0
    assert figures["stale_reads"] == 0, workload.stale
    assert all(reply.status == 200 for reply in writer.replies), writer.replies
    assert figures["first_request_max_ms"] <= FIRST_REQUEST_BUDGET_MS, figures
    assert figures["extra_p50_ms"] < EXTRA_P50_BUDGET_MS, figures
    assert figures["extra_p95_ms"] < EXTRA_P95_BUDGET_MS, figures
    assert figures["extra_max_ms"] < OTHER_REQUEST_MAX_MS, figures
    assert recovery_s is not None and recovery_s <= RECOVERY_BUDGET_S, figures


def test_read_only_replica_as_redis_url(
    redis_server: RedisServer, sqlite_database: Any, deploy: Any, tmp_path: Path,
    reliability_case: Any,
) -> None:  # fmt: skip
    replica = RedisServer(
        tmp_path / "replica", extra_args=("--replicaof", "127.0.0.1", str(redis_server.port))
    ).start()
    try:
        server = deploy(sqlite_database.url, replica.url, SESSION_BACKEND="sql")
        stack = build_stack(replica, server)
        workload, writer = stack.workload, stack.writer
        window = workload.run(seconds=WINDOW_S, writes_at=[1.0], writer=writer)
        # Promote the replica (what a failover does): it accepts writes from now on.
        replica.client().execute_command("REPLICAOF", "NO", "ONE")
        promoted = time.perf_counter()
        recovery_s = workload.recover(promoted, within=RECOVERY_BUDGET_S + 3)
        writer.write("after")
        workload.warm()
        baseline = workload.run(seconds=1.0)
        everything = [*window, *baseline, *writer.replies]
        wait_for_log(server, (reply.probe for reply in everything))
        figures: dict[str, Any] = {
            "requests": len(window),
            "5xx": five_xx(everything),
            "redis_5xx": five_xx(everything),
            **latency_figures(baseline, window, served_by(server)),
            "write_ms": [round(reply.ms) for reply in writer.replies],
            "stale_reads": len(workload.stale),
            "recovery_s": None if recovery_s is None else round(recovery_s, 2),
            "x_cache_during": cache_states(window),
        }
    finally:
        replica.stop()
    reliability_case.record(
        case="redis-read-only-replica",
        fault="REDIS_URL names a replica (--replicaof): every write answers READONLY; "
        "promoted with REPLICAOF NO ONE after 3 s",
        behaviour=(
            "READONLY errors counted as failures: reads answered 200 from the database, "
            f"writes kept their invalidations in the journal; hits {figures['recovery_s']} s "
            "after the promotion"
        ),
        catalogue=(14,),
        **figures,
    )
    assert figures["redis_5xx"] == 0
    assert figures["stale_reads"] == 0, workload.stale
    assert all(reply.status == 200 for reply in writer.replies), writer.replies
    assert figures["first_request_max_ms"] <= FIRST_REQUEST_BUDGET_MS, figures
    assert figures["extra_p50_ms"] < EXTRA_P50_BUDGET_MS, figures
    assert figures["extra_p95_ms"] < EXTRA_P95_BUDGET_MS, figures
    assert recovery_s is not None and recovery_s <= RECOVERY_BUDGET_S, figures
