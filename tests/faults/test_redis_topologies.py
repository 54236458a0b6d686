"""Configuring Redis as one server, a Cluster or a Sentinel-managed master.

``config.redis_target`` parses every form at start-up (``ConfigError`` for a
malformed one); ``redis_link.build_client`` builds the matching client with the
short timeouts and no retries; a cluster that is down when the app starts stops
nothing (the client is built on first use) and its failures are
``redis.RedisError``s like any other; a dead Sentinel costs one short timeout,
not redis-py's default retries.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flask_response_cache.layout import Layout
from flask_response_cache.redis_client import ClusterUnavailable, LazyCluster
from flask_response_cache.redis_url import CLUSTER, SENTINEL, STANDALONE
from flask_response_cache.storage.redis import RedisStorage

from config import ConfigError, load_config, redis_target
from redis_link import build_client
from tests.support.redis_cluster import LocalCluster
from tests.support.redis_server import free_port


@pytest.mark.parametrize(
    ("url", "topology", "nodes", "master"),
    [
        ("redis://127.0.0.1:6379/0", STANDALONE, (), None),
        ("rediss://:pw@cache:6380/2", STANDALONE, (), None),
        ("redis+cluster://h1:7000,h2:7001", CLUSTER, (("h1", 7000), ("h2", 7001)), None),
        ("redis+cluster://[::1]:7000/0", CLUSTER, (("::1", 7000),), None),
        ("redis+sentinel://s1:26379,s2:26379/mymaster", SENTINEL,
         (("s1", 26379), ("s2", 26379)), "mymaster"),
    ],
)  # fmt: skip
def test_every_topology_parses(
    url: str, topology: str, nodes: tuple[Any, ...], master: str | None
) -> None:
    target = redis_target(url)
    assert (target.topology, target.nodes, target.master) == (topology, nodes, master)


def test_credentials_and_tls_of_a_cluster_url() -> None:
    target = redis_target("rediss+cluster://app:s%40cret@h1:7000")
    assert (target.username, target.password, target.tls) == ("app", "s@cret", True)


@pytest.mark.parametrize(
    "url",
    [
        "cache:6379",
        "memcached://h:1",
        "redis+cluster://h1",
        "redis+cluster://h1:0",
        "redis+cluster://h1:7000/3",
        "redis+sentinel://s1:26379",
        "redis+sentinel://s1:x/mymaster",
    ],
)
def test_malformed_urls_fail_at_start_up(url: str) -> None:
    with pytest.raises(ConfigError):
        redis_target(url)
    with pytest.raises(ConfigError):
        load_config({"REDIS_URL": url})


def test_cluster_nodes_and_sentinels_settings_become_urls() -> None:
    cluster = load_config({"REDIS_CLUSTER_NODES": "h1:7000, h2:7001", "REDIS_PASSWORD": "p w"})
    assert cluster["REDIS_URL"] == "redis+cluster://:p%20w@h1:7000, h2:7001"
    assert redis_target(cluster["REDIS_URL"]).nodes == (("h1", 7000), ("h2", 7001))
    sentinel = load_config(
        {"REDIS_SENTINELS": "s1:26379", "REDIS_SENTINEL_MASTER": "main", "REDIS_TLS": "1"}
    )
    assert sentinel["REDIS_URL"] == "rediss+sentinel://s1:26379/main"


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_SENTINELS": "s1:26379"},
        {"REDIS_URL": "redis://a:1/0", "REDIS_CLUSTER_NODES": "h1:7000"},
        {"REDIS_CLUSTER_NODES": "h1:7000", "REDIS_SENTINELS": "s:1"},
    ],
)
def test_ambiguous_or_incomplete_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_config(env)


def dead_cluster_url() -> str:
    return f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}"


def test_a_dead_cluster_is_built_lazily_and_fails_as_a_redis_error_fast() -> None:
    client = build_client(dead_cluster_url(), timeout=0.25)
    assert isinstance(client, LazyCluster)
    storage = RedisStorage(client, Layout())  # scripts registered without connecting
    started = time.perf_counter()
    with pytest.raises(redis.ConnectionError) as raised:
        client.get("k")
    assert isinstance(raised.value, ClusterUnavailable)
    assert time.perf_counter() - started < 1.0
    assert storage.connection_generation() == 0


def test_a_dead_sentinel_costs_one_short_timeout_not_retries() -> None:
    client = build_client(f"redis+sentinel://127.0.0.1:{free_port()}/mymaster", timeout=0.25)
    started = time.perf_counter()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert time.perf_counter() - started < 1.0


def test_the_app_starts_and_serves_with_the_cluster_down(make_app: Any) -> None:
    app = make_app(REDIS_URL=dead_cluster_url(), SESSION_BACKEND="sql")
    client = app.test_client()
    answers = [client.get("/api/v1/posts") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert {answer.headers["X-Cache"] for answer in answers} == {"BYPASS"}
    assert client.get("/api/v1/health").get_json()["redis"] == "down"


@pytest.mark.slow
def test_the_connection_hook_sees_every_node_and_a_restarted_one(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "cluster").start()
    try:
        client = build_client(cluster.url)
        storage = RedisStorage(client, Layout())
        for key in ("{rc}:epoch", "sess:a", "rl:b", "x", "y", "z"):
            client.get(key)
        seen = storage.connection_generation()
        assert seen >= 1
        for key in ("{rc}:epoch", "sess:a", "rl:b"):  # pooled: nothing new
            client.get(key)
        assert storage.connection_generation() == seen
        node = cluster.node_for("{rc}:epoch")
        node.restart()
        for _ in range(3):  # the dead pooled connection fails once, then a new one
            try:
                client.get("{rc}:epoch")
            except redis.RedisError:
                continue
            break
        assert storage.connection_generation() > seen
    finally:
        cluster.stop()
