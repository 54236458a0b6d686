"""The one place Redis clients are built, and the guard every Redis user shares.

Contract:
- ``build_client(url, timeout)`` returns a redis-py client with explicit short
  connect and read timeouts, **no retries** (redis-py 8's default client retries
  10 times, about 4 s per failed call) and a bounded pool whose wait is bounded
  too, so a hung Redis costs one short timeout, never a pile-up.
- ``RedisLink.call(fn)`` runs ``fn(client)`` through the per-process circuit
  breaker: it returns ``(True, result)`` or ``(False, None)`` when Redis is
  unavailable (open circuit, connection refused, timeout, error reply). A
  timeout trips the breaker at once; other errors count towards the threshold.
- Every ``redis.RedisError`` is caught here; callers decide how to degrade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from middleware.breaker import CircuitBreaker

log = logging.getLogger(__name__)
T = TypeVar("T")


def build_client(url: str, timeout: float = 0.25, max_connections: int = 32) -> redis.Redis:
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


class RedisLink:
    """A client plus the breaker guarding it; one per process per app."""

    def __init__(self, client: redis.Redis, breaker: CircuitBreaker, url: str = "") -> None:
        self.client = client
        self.breaker = breaker
        self.url = url

    @property
    def available(self) -> bool:
        return not self.breaker.is_open

    def call(self, fn: Callable[[redis.Redis], T]) -> tuple[bool, T | None]:
        if not self.breaker.allow():
            return False, None
        try:
            result = fn(self.client)
        except redis.TimeoutError as exc:
            log.debug("redis timeout: %s", exc)
            self.breaker.trip()
            return False, None
        except redis.RedisError as exc:
            log.debug("redis error: %s", exc)
            self.breaker.record_failure()
            return False, None
        self.breaker.record_success()
        return True, result

    def ping(self) -> bool:
        ok, _ = self.call(lambda c: c.ping())
        return ok

    def close(self) -> None:
        try:
            self.client.close()
        except redis.RedisError:  # pragma: no cover - closing a dead pool
            pass


def link_from_config(url: str | None, timeout: float) -> RedisLink | None:
    if not url:
        return None
    return RedisLink(build_client(url, timeout), CircuitBreaker(), url)


def current_link() -> Any:
    """The app's RedisLink, or None in embedded mode."""
    from flask import current_app

    return current_app.extensions.get("redis_link")
