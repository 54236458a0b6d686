"""Redis flapping under load: stopped (SIGKILL) and started again every 2 s.

Two anonymous readers and one writer (SQL sessions) run against two gunicorn
workers the whole time; the first 2 s, with Redis healthy, are the latency
baseline (same load, so only Redis's share is compared). Expected: zero 5xx,
zero stale reads, no request waits longer than one write's lease wait plus one
short timeout, the breaker keeps closing again (hits are served between the
outages), and once Redis stays up the service is back to hits within the
breaker's reset period.

The issue's figure is 60 s of flapping; that variant is marked ``slow`` and runs
in ``make test``. The 10 s variant runs only when the 60 s one is not selected
(``-m "not slow"``), so a full run does not pay for both (``conftest.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
    median_ms,
    percentile,
    pick_post,
)
from tests.support.redis_server import RedisServer

PERIOD_S = 2.0
READERS = 2  # one per worker: load, without measuring only the queue of a saturated box
READ_PACE_S = 0.005
WRITE_EVERY_S = 1.0
# A write during an outage holds its sync worker for one trust lease (0.5 s, D3) and
# reads queued behind it wait too; add one short timeout and noise.
MAX_REQUEST_MS = 1000.0
RECOVERY_BUDGET_S = 2.0  # the workers' probes (every 0.25 s), plus slack
BASELINE_S = 2.0


def _overlap(a: Reply, b: Reply) -> bool:
    return a.started < b.started + b.elapsed and b.started < a.started + a.elapsed


def flap(redis: RedisServer, seconds: float) -> int:
    """Kill and restart Redis every PERIOD_S for ``seconds``; returns the outages."""
    started = time.perf_counter()
    outages = 0
    while time.perf_counter() - started < seconds:
        redis.kill()
        outages += 1
        time.sleep(PERIOD_S)  # the fault itself: Redis stays down for 2 s
        redis.start()
        time.sleep(PERIOD_S)  # and up for 2 s
    return outages


def under_load(
    workload: Workload, writer: Writer, stop: threading.Event
) -> tuple[list[Reply], list[threading.Thread]]:
    replies: list[Reply] = []
    lock = threading.Lock()

    def read() -> None:
        while not stop.wait(READ_PACE_S):
            batch = workload.read_once()
            with lock:
                replies.extend(batch)

    def write() -> None:
        while not stop.wait(WRITE_EVERY_S):
            writer.write("flap")

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    threads.append(threading.Thread(target=write))
    for thread in threads:
        thread.start()
    return replies, threads


def run_flapping(
    seconds: float, redis_server: RedisServer, server_url: Callable[[], Any], record: Any
) -> None:
    server = server_url()
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    workload = Workload(http, post_id, log)
    workload.warm()

    stop = threading.Event()
    observed, threads = under_load(workload, writer, stop)
    try:
        time.sleep(BASELINE_S)  # the same load with Redis healthy: the baseline
        flapping_from = time.perf_counter()
        outages = flap(redis_server, seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    baseline = [reply for reply in observed if reply.started < flapping_from]
    replies = [reply for reply in observed if reply.started >= flapping_from]
    healed = time.perf_counter()
    recovery_s = workload.recover(healed, within=RECOVERY_BUDGET_S + 3)
    writer.write("after")
    tail = workload.read_once()

    base = median_ms(baseline)
    extra = [reply.ms - base for reply in replies]
    # Reads that ran while a write was waiting out its lease may have queued behind it
    # (sync workers: one request at a time); the others show Redis's own share.
    apart = [
        reply.ms - base
        for reply in replies
        if not any(_overlap(reply, write) for write in writer.replies)
    ]
    states = cache_states(replies)
    figures: dict[str, Any] = {
        "seconds": seconds,
        "outages": outages,
        "requests": len(replies),
        "writes": len(writer.replies),
        "5xx": five_xx([*replies, *tail, *writer.replies]),
        "redis_5xx": five_xx([*replies, *tail, *writer.replies]),
        "baseline_median_ms": round(base, 2),
        "extra_p50_ms": round(percentile(extra, 0.5), 2),
        "extra_p95_ms": round(percentile(extra, 0.95), 2),
        "extra_p95_ms_apart_from_writes": round(percentile(apart, 0.95), 2),
        "max_request_ms": round(max(reply.ms for reply in replies), 1),
        "hit_share": round(states.get("HIT", 0) / max(1, len(replies)), 3),
        "x_cache_during": states,
        "write_max_ms": round(max(reply.ms for reply in writer.replies)),
        "stale_reads": len(workload.stale),
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
    }
    record(
        case=f"redis-flapping-{int(seconds)}s",
        fault=f"SIGKILL, 2 s down, restart, 2 s up, for {int(seconds)} s; 2 readers and a "
        "writer (every 1 s) the whole time",
        behaviour=(
            f"{figures['requests']} reads and {figures['writes']} writes, no error; the "
            f"slowest read took {figures['max_request_ms']} ms; {figures['hit_share']:.0%} of "
            f"reads were hits between outages; hits again {figures['recovery_s']} s after the "
            "last restart"
        ),
        catalogue=(11,),
        **figures,
    )
    assert figures["redis_5xx"] == 0, [r for r in replies if r.status >= 500][:3]
    assert all(reply.status == 200 for reply in writer.replies), writer.replies[-3:]
    assert figures["stale_reads"] == 0, workload.stale[:5]
    assert figures["max_request_ms"] < MAX_REQUEST_MS, figures
    assert figures["extra_p50_ms"] < 20.0, figures
    assert figures["extra_p95_ms_apart_from_writes"] < 50.0, figures
    assert recovery_s is not None and recovery_s <= RECOVERY_BUDGET_S, figures
    if seconds >= 30:  # long enough for the breaker to close between outages
        assert figures["hit_share"] > 0, figures


@pytest.mark.parametrize(
    "seconds",
    [pytest.param(10.0, id="10s"), pytest.param(60.0, id="60s", marks=pytest.mark.slow)],
)
def test_flapping_redis_under_load(
    seconds: float,
    redis_server: RedisServer,
    sqlite_database: Any,
    deploy: Any,
    reliability_case: Any,
) -> None:
    run_flapping(
        seconds,
        redis_server,
        lambda: deploy(sqlite_database.url, redis_server.url, SESSION_BACKEND="sql"),
        reliability_case.record,
    )
