"""The one Redis client per process, and the circuit breaker every Redis user shares.

Contract:
- ``build_client(url, timeout)`` is the response-cache package's ``connect_redis``: a
  redis-py client with explicit short connect and read timeouts, **no retries** and a
  bounded pool, for any topology the URL names (one server, a Sentinel master, a
  Cluster built lazily; see ``flask_response_cache.redis_url``). Every failure of it
  is a ``redis.RedisError``.
- ``init_redis_link(app)`` builds one ``RedisLink`` per app (so one per gunicorn
  worker: ``preload_app`` is off) into ``app.extensions["redis_link"]``, or ``None`` in
  embedded mode (no ``REDIS_URL``). The response cache, the sessions and the limiter's
  storage all share it, and its breaker is the package's ``CircuitBreaker``.
- ``RedisLink.execute(fn)`` runs ``fn(client)`` through the circuit breaker and
  re-raises: ``CircuitOpenError`` (a ``redis.ConnectionError``) without any network
  while the circuit is open, otherwise whatever ``redis.RedisError`` the call raised. A
  timeout or a refused connection trips the breaker at once; other errors count towards
  its threshold. While it is open no request touches Redis: a thread of the worker
  PINGs it every ``REDIS_PROBE_INTERVAL`` (0.25 s) and the first answer closes it.
- ``RedisLink.call(fn)`` is the fail-open form: ``(True, result)`` or ``(False, None)``
  when Redis is unavailable.
- Callers catch ``redis.RedisError`` (never bare ``Exception``) and decide how to
  degrade; nothing here logs per request (the breaker logs state changes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis
from flask import Flask, current_app
from flask_response_cache import CircuitBreaker, connect_redis

T = TypeVar("T")
# Where each app keeps its RedisLink (None in embedded mode).
REDIS_LINK = "redis_link"


class CircuitOpenError(redis.ConnectionError):
    """Redis was not called: the circuit is open after recent failures."""


# Whatever build_client returns: a redis.Redis (standalone or Sentinel master) or the
# package's LazyCluster, which answers every redis.Redis command a RedisCluster supports.
RedisClient = Any


def build_client(url: str, timeout: float = 0.25, max_connections: int = 32) -> RedisClient:
    return connect_redis(url, timeout, max_connections)


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
        except (redis.TimeoutError, redis.ConnectionError):
            # A hung or gone server: one timeout (or refusal) is evidence enough.
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


# The key the breaker's probe writes (1 s TTL).
PROBE_KEY = "redis_link:probe"


def link_from_config(config: Mapping[str, Any]) -> RedisLink | None:
    url = config.get("REDIS_URL")
    if not url:
        return None
    client = build_client(
        url, float(config["REDIS_TIMEOUT"]), int(config.get("REDIS_MAX_CONNECTIONS", 32))
    )
    clock = config.get("CLOCK")  # tests inject one, and run the probes themselves
    breaker = CircuitBreaker(
        failure_threshold=int(config["REDIS_BREAKER_FAILURES"]),
        clock=clock or time.monotonic,
        # While open, a thread of this worker probes every REDIS_PROBE_INTERVAL: requests
        # never wait on a probe, and every worker sees Redis back within that interval.
        # A write, not a PING: a PING passes under CLIENT PAUSE WRITE, on a read-only
        # replica or out of memory, where the cache's stores would still fail.
        probe=lambda: client.set(PROBE_KEY, b"1", px=1000),
        probe_interval=float(config["REDIS_PROBE_INTERVAL"]),
        background=clock is None,
    )
    return RedisLink(client, breaker, url)


def init_redis_link(app: Flask) -> None:
    """One link per app (per gunicorn worker), shared by every Redis user."""
    app.extensions[REDIS_LINK] = link_from_config(app.config)


def current_link() -> RedisLink | None:
    """The app's RedisLink, or None in embedded mode."""
    link: RedisLink | None = current_app.extensions.get(REDIS_LINK)
    return link
