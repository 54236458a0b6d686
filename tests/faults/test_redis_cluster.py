"""The whole app on a local three-master Redis Cluster (``redis+cluster://``).

Under two gunicorn workers: the response cache and the service cache hit, tag
invalidation after a write is seen at once, sessions log in and out, rate limits
count and refuse; every cache key sits in the one slot of the ``{rc}`` hash tag
while session and limiter keys spread over the masters. Then the master holding
``{rc}`` is restarted from a snapshot taken before a write: the cache notices
the new server (its connection hook runs on every node's connections) and never
serves the resurrected entries. ``REDIS_CLUSTER_NODES`` is the same thing
spelled as a node list.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    DEMO_PASSWORD,
    LOGIN,
    POSTS,
    Http,
    Workload,
    WriteLog,
    Writer,
    five_xx,
    pick_post,
    session_cookie,
)
from tests.support.redis_cluster import LocalCluster

pytestmark = pytest.mark.slow

ME = "/api/v1/auth/me"
# Each dead pooled connection to the restarted master costs one failure, and the
# first probe after the breaker's reset may go to another master and close it
# too early: up to two reset periods (5 s each), plus the fill.
CLUSTER_RECOVERY_S = 12.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path / "cluster").start()
    yield local
    local.stop()


def test_everything_works_on_a_redis_cluster(
    cluster: LocalCluster, sqlite_database: Any, deploy: Any, reliability_case: Any
) -> None:
    server = deploy(sqlite_database.url, cluster.url, RATELIMIT_AUTH="8 per minute")
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    me = http.get(ME, cookie=writer.cookie)
    workload = Workload(http, post_id, log)
    warm = workload.warm()
    # Tag invalidation: the write's tags reach the list page and the post at once.
    assert writer.write("on-cluster").status == 200
    after_write = workload.read_once()
    rewarmed = workload.warm()
    # Rate limits on the cluster: the auth bucket (8/min) refuses the 9th auth call.
    auth_calls = [http.get(ME, cookie=writer.cookie) for _ in range(8)]
    logout = http.request("POST", "/api/v1/auth/logout", cookie=writer.cookie)
    keys = cluster.keys_by_node()
    by_prefix = {
        prefix: sorted(
            port for port, found in keys.items() if any(k.startswith(prefix) for k in found)
        )
        for prefix in (b"{rc}:", b"sess:", b"rl:")
    }
    statuses = [reply.status for reply in auth_calls]
    figures: dict[str, Any] = {
        "me": me.status,
        "first_reads": [reply.x_cache for reply in warm],
        "after_write": [reply.x_cache for reply in after_write],
        "after_write_version": [workload.served_version(reply) for reply in after_write],
        "auth_statuses": statuses,
        "logout": logout.status,
        "nodes_with_cache_keys": len(by_prefix[b"{rc}:"]),
        "nodes_with_session_or_limit_keys": len(set(by_prefix[b"sess:"] + by_prefix[b"rl:"])),
        "stale_reads": len(workload.stale),
        "redis_5xx": five_xx([*warm, *after_write, *rewarmed, *auth_calls, logout]),
    }
    reliability_case.record(
        case="cluster-features",
        fault="REDIS_URL=redis+cluster://3 masters; read, write, log in and out, hit the "
        "auth limit",
        behaviour="hits from the response and service caches, fresh reads right after the "
        "write, sessions and limits on the cluster; every cache key on one node ({rc} slot)",
        catalogue=(56,),
        group="cluster",
        **figures,
    )
    assert me.status == 200
    assert [reply.x_cache for reply in rewarmed] == ["HIT", "HIT"]
    assert figures["after_write_version"] == [1, 1]
    assert "MISS" in figures["after_write"]
    assert 429 in statuses and statuses.index(429) > 0
    assert logout.status in (204, 429)
    assert figures["nodes_with_cache_keys"] == 1
    assert figures["stale_reads"] == 0
    assert figures["redis_5xx"] == 0


def test_the_cache_master_restarted_from_an_old_snapshot_is_never_trusted(
    cluster: LocalCluster, sqlite_database: Any, deploy: Any, reliability_case: Any
) -> None:
    server = deploy(sqlite_database.url, REDIS_CLUSTER_NODES=cluster.node_list)
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    workload = Workload(http, post_id, log)
    assert writer.write("snapshotted").status == 200
    workload.warm()
    cache_node = cluster.node_for("{rc}:epoch")
    cache_node.save_snapshot()  # holds the v1 entries
    assert writer.write("after-snapshot").status == 200
    workload.warm()
    cache_node.restart(from_snapshot=True)  # v1 is back on that master
    resurrected = list(cache_node.client().scan_iter(match="{rc}:e:*"))  # the v1 entries
    restarted = time.perf_counter()
    reads = [reply for _ in range(20) for reply in workload.read_once()]
    # The dead connections to that master opened the breaker: hits after its reset.
    recovery_s = workload.recover(restarted, within=CLUSTER_RECOVERY_S + 3)
    figures: dict[str, Any] = {
        "resurrected_entries": len(resurrected),
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
        "reads": len(reads),
        "statuses": sorted({reply.status for reply in reads}),
        "stale_reads": len(workload.stale),
        "redis_5xx": five_xx(reads),
    }
    reliability_case.record(
        case="cluster-cache-master-restarted-from-snapshot",
        fault="REDIS_CLUSTER_NODES; SAVE on the master of the {rc} slot, write v2, SIGKILL "
        "that master, restart it from the snapshot (v1 entries back)",
        behaviour="the new connection to that node carried a new run_id, so the cache "
        "re-verified: the store's seq was behind the journal, new epoch, v1 never served",
        catalogue=(16,),
        group="cluster",
        **figures,
    )
    assert resurrected, "the snapshot should have brought entries back"
    assert figures["stale_reads"] == 0, workload.stale
    assert figures["redis_5xx"] == 0
    assert recovery_s is not None and recovery_s <= CLUSTER_RECOVERY_S, figures


def test_login_on_a_cluster_and_the_session_key_lives_where_its_slot_says(
    cluster: LocalCluster, sqlite_database: Any, deploy: Any
) -> None:
    # Redis-only sessions (one key per session); the default store is covered by the logins above.
    server = deploy(sqlite_database.url, cluster.url, SESSION_BACKEND="redis")
    http = Http(server.port)
    login = http.request(
        "POST", LOGIN, body={"email": "user3@example.com", "password": DEMO_PASSWORD}
    )
    cookie = session_cookie(login)
    assert login.status == 200 and cookie
    node = cluster.node_for(f"sess:{cookie}")
    assert node.client().exists(f"sess:{cookie}") == 1
    assert http.get(POSTS, cookie=cookie).status == 200
