"""Rate-limit counters on Redis that never wait on a Redis that is down.

Contract:
- ``FailoverStorage`` is a ``limits`` storage (registered under the
  ``failover+redis://`` scheme, limits' documented extension point) for the
  fixed-window strategy. Each operation runs on Redis through the app's
  ``RedisLink`` (its pool, its short timeouts, its circuit breaker) under the
  ``rl:`` key prefix; when the circuit is open or the call fails, the same
  operation runs on a per-process ``MemoryStorage`` instead. So limits stay
  enforced during an outage (per worker: N workers allow about N times the
  limit) and the extra cost is one short timeout per worker before the
  breaker opens, then none.
- Recovery follows the breaker: once it lets a probe through and the probe
  succeeds, counting is back on Redis. The in-memory counts of the outage are
  not copied over (a client gets at most one extra window's worth).
- Operations never raise ``RedisError``, so Flask-Limiter's own fallback (and
  its 1..32 s re-check backoff) never has to engage; ``check()`` is True for
  the same reason.
- The Redis side works on whatever client the link holds (standalone, Sentinel
  master or Cluster: keys ``rl:...`` spread over the cluster's slots).
- ``reset()`` clears the in-memory counters only: clearing Redis would need
  ``KEYS`` (limits' Lua script), which this project never runs; Redis
  counters expire with their window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis
from limits.storage import MemoryStorage, RedisStorage, Storage

from redis_link import RedisLink

KEY_PREFIX = "rl"
SCHEME = "failover+redis"
T = TypeVar("T")


class LinkRedisStorage(RedisStorage):
    """limits' Redis storage on the link's own client: one server, a Sentinel master
    or a Cluster alike (each fixed-window counter is one key, its Lua script touches
    only that key, so any slot will do)."""

    def __init__(self, client: Any, key_prefix: str) -> None:
        # RedisStorage.__init__ would build its own client from a URL.
        Storage.__init__(self)
        self.key_prefix = key_prefix
        self.target_server = "redis"
        self.dependency = redis
        self.storage = client
        self.initialize_storage("")


class FailoverStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any
    ) -> None:
        link: RedisLink = options.pop("link")
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.link = link
        self.redis = LinkRedisStorage(link.client, options.pop("key_prefix", KEY_PREFIX))
        self.memory = MemoryStorage()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return redis.RedisError

    def _route(self, operation: Callable[[Storage], T]) -> T:
        try:
            return self.link.execute(lambda _client: operation(self.redis))
        except redis.RedisError:
            return operation(self.memory)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._route(lambda s: s.incr(key, expiry, amount))

    def get(self, key: str) -> int:
        return self._route(lambda s: s.get(key))

    def get_expiry(self, key: str) -> float:
        return self._route(lambda s: s.get_expiry(key))

    def clear(self, key: str) -> None:
        self._route(lambda s: s.clear(key))

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        return self.memory.reset()
