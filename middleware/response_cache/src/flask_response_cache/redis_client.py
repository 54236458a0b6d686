"""Redis clients built from one URL (``redis_url``), safe to call on a request path.

Contract:

- ``connect(url, timeout=0.25, max_connections=32)`` returns a redis-py client with
  explicit short connect and read timeouts, **no retries** (redis-py's default client
  retries 10 times, about 4 s per failed call) and a bounded pool whose wait is bounded
  too, so a hung Redis costs one short timeout, never a pile-up. One server: a
  ``redis.Redis``; a Sentinel-managed master: ``Sentinel(...).master_for(...)`` with the
  Sentinels queried under the same timeouts and no retries; a Cluster: a ``LazyCluster``,
  built on first use so an app starts while the cluster is down.
- Every failure of these clients is a ``redis.RedisError``: redis-py's cluster client
  raises ``RedisClusterException`` (not a ``RedisError``) when no node answers or a slot
  is uncovered; ``LazyCluster`` turns it into ``ClusterUnavailable``, a
  ``redis.ConnectionError``.

This module imports redis-py (``pip install 'flask-response-cache[redis]'``); nothing
else in the package does until Redis is configured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.connection import Encoder
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from .redis_url import CLUSTER, SENTINEL, RedisTarget, parse_redis_url


class ClusterUnavailable(redis.ConnectionError):
    """The cluster client could not be built or routed the command nowhere."""


def connect(url: str, timeout: float = 0.25, max_connections: int = 32) -> Any:
    """A client for ``url`` (any topology) with short timeouts and no retries."""
    target = parse_redis_url(url)
    if target.topology == CLUSTER:
        return LazyCluster(target, timeout, max_connections)
    if target.topology == SENTINEL:
        return _sentinel_master(target, timeout, max_connections)
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,  # waiting for a free connection is bounded too
        health_check_interval=30,
        **_no_retry_options(timeout),
    )
    return redis.Redis(connection_pool=pool)


def _no_retry_options(timeout: float) -> dict[str, Any]:
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


def _credentials(target: RedisTarget) -> dict[str, Any]:
    options: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.tls:
        options["ssl"] = True
    return options


def _sentinel_master(target: RedisTarget, timeout: float, max_connections: int) -> redis.Redis:
    # The Sentinels get the same short timeouts and no retries: redis-py would
    # otherwise build them with its default retries (about 4 s per dead Sentinel).
    sentinel = Sentinel(list(target.nodes), sentinel_kwargs=_no_retry_options(timeout))
    assert target.master is not None
    master: redis.Redis = sentinel.master_for(
        target.master,
        max_connections=max_connections,
        health_check_interval=30,
        **_no_retry_options(timeout),
        **_credentials(target),
    )
    return master


class LazyCluster:
    """A ``RedisCluster`` built on first use, whose every failure is a ``redis.RedisError``.

    redis-py builds a cluster client by asking the seed nodes for the slot map at
    once and raises ``RedisClusterException`` when none answers, which would stop
    the app from starting while the cluster is down; building on first use (under
    the caller's circuit breaker) keeps Redis optional. Commands, scripts and
    pipelines are forwarded to the real client, with its ``RedisClusterException``
    (and ``SlotNotCoveredError``) raised as ``ClusterUnavailable``.

    ``user_on_connect_func`` is called with every new connection to any node,
    including nodes discovered later, after redis-py set it up (``RedisStorage``
    hooks it to notice server restarts).
    """

    def __init__(self, target: RedisTarget, timeout: float, max_connections: int) -> None:
        self.target = target
        self.user_on_connect_func: Callable[[Any], None] | None = None
        self._options: dict[str, Any] = {
            "startup_nodes": [ClusterNode(host, port) for host, port in target.nodes],
            # No cluster-level retries: one failed command is one failure.
            "retry": Retry(NoBackoff(), 0),
            # Slots that no node serves fail alone; the rest keeps working.
            "require_full_coverage": False,
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "max_connections": max_connections,
            **_credentials(target),
        }
        self._lock = threading.Lock()
        self._cluster: _TranslatedCluster | None = None

    def cluster(self) -> RedisCluster:
        built = self._cluster
        if built is None:
            with self._lock:
                if self._cluster is None:
                    try:
                        self._cluster = _TranslatedCluster(
                            redis_connect_func=self._on_connect, **self._options
                        )
                    except (RedisClusterException, redis.RedisError) as exc:
                        raise ClusterUnavailable(f"redis cluster unreachable: {exc}") from exc
                built = self._cluster
        return built

    def _on_connect(self, connection: Any) -> None:
        if self.user_on_connect_func is not None:
            self.user_on_connect_func(connection)

    # Answered without building the client (scripts are registered at start-up).
    def get_encoder(self) -> Encoder:
        return Encoder(encoding="utf-8", encoding_errors="strict", decode_responses=False)

    def register_script(self, script: str) -> Script:
        return Script(self, script)  # type: ignore[arg-type]  # a duck-typed client

    def pipeline(self, transaction: bool | None = None) -> _TranslatedPipeline:
        return _TranslatedPipeline(self.cluster().pipeline(transaction=transaction))

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.cluster(), name)


class _TranslatedCluster(RedisCluster):
    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise ClusterUnavailable(str(exc)) from exc


class _TranslatedPipeline:
    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            result: list[Any] = self._pipeline.execute(raise_on_error=raise_on_error)
        except RedisClusterException as exc:
            raise ClusterUnavailable(str(exc)) from exc
        return result

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._pipeline, name)
