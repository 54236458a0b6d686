"""Redis behind Sentinel (``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``), through a failover.

A master, its replica and one Sentinel (quorum 1, ``down-after-milliseconds``
1000) run locally. The app finds the master through the Sentinel with the same
short timeouts as everywhere. The master is killed while readers and a writer
(SQL sessions) carry on: the Sentinel promotes the replica, the app follows it
(the new master's ``run_id`` differs, so the cache re-verifies its epoch before
trusting anything), and meanwhile nothing answers 5xx and no read is stale.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.faults.harness import Http, Workload, WriteLog, Writer, five_xx, pick_post
from tests.support.redis_server import RedisServer, free_port, redis_server_binary

pytestmark = pytest.mark.slow

MASTER_NAME = "mymaster"
FAILOVER_BUDGET_S = 15.0


class LocalSentinel:
    """One ``redis-server --sentinel`` watching ``master`` with quorum 1."""

    def __init__(self, workdir: Path, master: RedisServer) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = workdir / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 3000\n"
        )
        self.log = workdir / "sentinel.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def start(self) -> LocalSentinel:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [redis_server_binary(), str(self.config), "--sentinel"], stdout=log, stderr=log
            )
        self.wait(lambda: self.master_port() is not None, 10, "sentinel not ready")
        return self

    def master_port(self) -> int | None:
        try:
            address = self.client().execute_command(
                "SENTINEL", "get-master-addr-by-name", MASTER_NAME
            )
        except redis.RedisError:
            return None
        return int(address[1]) if address else None

    @staticmethod
    def wait(condition: Any, timeout: float, message: str) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if condition():
                return time.perf_counter() - started
            time.sleep(0.05)  # polling another process's state, not a clock
        raise AssertionError(message)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def sentinel_set(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer, LocalSentinel]]:
    master = RedisServer(tmp_path / "master").start()
    replica = RedisServer(
        tmp_path / "replica", extra_args=("--replicaof", "127.0.0.1", str(master.port))
    ).start()
    sentinel = LocalSentinel(tmp_path / "sentinel", master).start()
    LocalSentinel.wait(
        lambda: replica.client().info("replication").get("master_link_status") == "up",
        10,
        "replica never synced",
    )
    yield master, replica, sentinel
    for process in (sentinel, replica, master):
        process.stop()


def test_sentinel_failover_costs_no_error_and_no_stale_read(
    sentinel_set: tuple[RedisServer, RedisServer, LocalSentinel],
    sqlite_database: Any,
    deploy: Any,
    reliability_case: Any,
) -> None:
    master, replica, sentinel = sentinel_set
    server = deploy(
        sqlite_database.url,
        REDIS_SENTINELS=f"127.0.0.1:{sentinel.port}",
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        SESSION_BACKEND="sql",
    )
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    workload = Workload(http, post_id, log)
    assert writer.write("before").status == 200
    warm = workload.warm()

    master.kill()
    killed = time.perf_counter()
    replies = []
    while sentinel.master_port() != replica.port:
        assert time.perf_counter() - killed < FAILOVER_BUDGET_S, "no failover"
        replies += workload.read_once()
        if len(replies) % 40 == 0:
            writer.write("failover")
    failed_over_s = time.perf_counter() - killed
    promoted = time.perf_counter()
    recovery_s = workload.recover(promoted, within=10)
    writer.write("after")
    replies += workload.read_once()
    figures: dict[str, Any] = {
        "requests": len(replies),
        "writes": len(writer.replies),
        "5xx": five_xx([*replies, *writer.replies]),
        "redis_5xx": five_xx([*replies, *writer.replies]),
        "failover_s": round(failed_over_s, 2),
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
        "stale_reads": len(workload.stale),
        "max_request_ms": round(max(reply.ms for reply in replies), 1),
    }
    reliability_case.record(
        case="sentinel-failover",
        fault="REDIS_SENTINELS + REDIS_SENTINEL_MASTER; the master SIGKILLed, the Sentinel "
        "promotes the replica",
        behaviour=(
            f"reads and writes carried on without an error during the {figures['failover_s']} s "
            f"failover; hits from the new master {figures['recovery_s']} s after the promotion"
        ),
        catalogue=(14, 16),
        group="cluster",
        **figures,
    )
    assert [reply.x_cache for reply in warm] == ["HIT", "HIT"]
    assert figures["redis_5xx"] == 0, [reply for reply in replies if reply.status >= 500][:3]
    assert all(reply.status == 200 for reply in writer.replies), writer.replies
    assert figures["stale_reads"] == 0, workload.stale
    assert recovery_s is not None and recovery_s <= 7.0, figures
    assert figures["max_request_ms"] < 1000, figures
