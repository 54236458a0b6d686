"""The one place Redis clients are built, and the guard every Redis user shares.

Contract:
- ``build_client(url, timeout)`` returns a redis-py client with explicit short
  connect and read timeouts, **no retries** (redis-py 8's default client retries
  10 times, about 4 s per failed call) and a bounded pool whose wait is bounded
  too, so a hung Redis costs one short timeout, never a pile-up. The URL says
  the topology (``config.redis_target``): one server (``redis://``), a Sentinel
  master (``redis+sentinel://``: ``Sentinel(...).master_for(...)``, the
  Sentinels queried with the same timeouts and no retries) or a Cluster
  (``redis+cluster://``: a ``LazyCluster``, built on first use so the app
  starts while the cluster is down, no cluster-level retries).
- Every failure of any of these clients is a ``redis.RedisError``: redis-py's
  cluster client raises ``RedisClusterException`` (not a ``RedisError``) when
  no node answers or a slot is uncovered; ``LazyCluster`` turns it into
  ``ClusterUnavailable``, a ``redis.ConnectionError``.
- ``init_redis_link(app)`` builds one ``RedisLink`` per app (so one per gunicorn
  worker: ``preload_app`` is off) into ``app.extensions["redis_link"]``, or
  ``None`` in embedded mode (no ``REDIS_URL``). The response cache, the service
  cache, the sessions and the limiter's storage all share it.
- ``RedisLink.execute(fn)`` runs ``fn(client)`` through the circuit breaker and
  re-raises: ``CircuitOpenError`` (a ``redis.ConnectionError``) without any
  network while the circuit is open, otherwise whatever ``redis.RedisError``
  the call raised. A timeout trips the breaker at once; other errors count
  towards its threshold.
- ``RedisLink.call(fn)`` is the fail-open form: ``(True, result)`` or
  ``(False, None)`` when Redis is unavailable.
- Callers catch ``redis.RedisError`` (never bare ``Exception``) and decide how
  to degrade; nothing here logs per request (the breaker logs state changes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.connection import Encoder
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from config import CLUSTER, SENTINEL, RedisTarget, redis_target
from middleware.breaker import CircuitBreaker

T = TypeVar("T")


class CircuitOpenError(redis.ConnectionError):
    """Redis was not called: the circuit is open after recent failures."""


class ClusterUnavailable(redis.ConnectionError):
    """The cluster client could not be built or routed the command nowhere."""


# Whatever build_client returns: a redis.Redis (standalone or Sentinel master) or a
# LazyCluster, which answers every redis.Redis command a RedisCluster supports.
RedisClient = Any


def build_client(url: str, timeout: float = 0.25, max_connections: int = 32) -> RedisClient:
    target = redis_target(url)
    if target.topology == CLUSTER:
        return LazyCluster(target, timeout, max_connections)
    if target.topology == SENTINEL:
        return _sentinel_master(target, timeout, max_connections)
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,  # waiting for a free connection is bounded too
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
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
    including nodes discovered later, after redis-py set it up (the cache's
    ``RedisStorage`` hooks it to notice server restarts).
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
        return Script(self, script)  # type: ignore[arg-type]  # duck-typed client

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


class RedisLink:
    """A client plus the breaker guarding it; one per process per app."""

    def __init__(self, client: RedisClient, breaker: CircuitBreaker, url: str = "") -> None:
        self.client = client
        self.breaker = breaker
        self.url = url

    @property
    def available(self) -> bool:
        """False while the circuit is open: callers should not even try."""
        return not self.breaker.is_open

    def retry_after(self) -> int:
        """Whole seconds a client should wait before retrying (at least 1)."""
        return max(1, int(self.breaker.retry_after() + 0.999))

    def execute(self, fn: Callable[[RedisClient], T]) -> T:
        if not self.breaker.allow():
            raise CircuitOpenError("redis circuit is open")
        try:
            result = fn(self.client)
        except redis.TimeoutError:
            self.breaker.trip()
            raise
        except redis.RedisError:
            self.breaker.record_failure()
            raise
        except BaseException:
            # Not Redis's fault (a decoding bug, an interrupt): no verdict.
            self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    def call(self, fn: Callable[[RedisClient], T]) -> tuple[bool, T | None]:
        try:
            return True, self.execute(fn)
        except redis.RedisError:
            return False, None

    def ping(self) -> bool:
        ok, _ = self.call(lambda c: c.ping())
        return ok

    def close(self) -> None:
        try:
            self.client.close()
            pool = getattr(self.client, "connection_pool", None)  # none on a cluster
            if pool is not None:
                pool.disconnect()
        except redis.RedisError:  # pragma: no cover - closing a dead pool
            pass


def link_from_config(config: Mapping[str, Any]) -> RedisLink | None:
    url = config.get("REDIS_URL")
    if not url:
        return None
    breaker = CircuitBreaker(
        failure_threshold=int(config["REDIS_BREAKER_FAILURES"]),
        reset_timeout=float(config["REDIS_BREAKER_RESET"]),
        # Tests inject CLOCK to move time without sleeping.
        clock=config.get("CLOCK") or time.monotonic,
    )
    client = build_client(
        url, float(config["REDIS_TIMEOUT"]), int(config.get("REDIS_MAX_CONNECTIONS", 32))
    )
    return RedisLink(client, breaker, url)


def init_redis_link(app: Flask) -> None:
    app.extensions["redis_link"] = link_from_config(app.config)


def current_link() -> RedisLink | None:
    """The app's RedisLink, or None in embedded mode."""
    link: RedisLink | None = current_app.extensions.get("redis_link")
    return link
