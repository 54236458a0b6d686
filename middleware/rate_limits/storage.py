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
- **One round trip per request.** Counting on Redis runs limits' increment and reads
  the key's TTL in the same script; inside a request the pair is kept (``flask.g``),
  so the ``get`` and ``get_expiry`` Flask-Limiter sends right after for the headers of
  the same key are answered from it instead of two more round trips. A key counted in
  another request is always read from Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from flask import g, has_request_context
from limits.storage import MemoryStorage, RedisStorage, Storage

from redis_link import RedisLink

KEY_PREFIX = "rl"
SCHEME = "failover+redis"
T = TypeVar("T")
_G_KEY = "_rate_counts"  # flask.g: key -> (count, expires at) counted in this request

# limits' incr_expire.lua, plus the key's TTL, so the headers need no further reads.
INCR_EXPIRE_TTL = """
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {current, redis.call('TTL', KEYS[1])}
"""


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
        self._incr_ttl = client.register_script(INCR_EXPIRE_TTL)

    def incr_with_expiry(self, key: str, expiry: int, amount: int = 1) -> tuple[int, float]:
        """Count, and when the window ends (epoch seconds), in one round trip."""
        count, ttl = self._incr_ttl([self.prefixed_key(key)], [expiry, amount])
        return int(count), time.time() + max(int(ttl), 0)


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
        try:
            count, expires_at = self.link.execute(
                lambda _client: self.redis.incr_with_expiry(key, expiry, amount)
            )
        except redis.RedisError:
            return self.memory.incr(key, expiry, amount)
        if has_request_context():
            g.setdefault(_G_KEY, {})[key] = (count, expires_at)
        return count

    def _counted(self, key: str) -> tuple[int, float] | None:
        if not has_request_context():
            return None
        counted: dict[str, tuple[int, float]] | None = g.get(_G_KEY)
        return counted.get(key) if counted else None

    def get(self, key: str) -> int:
        counted = self._counted(key)
        if counted is not None:
            return counted[0]
        return self._route(lambda s: s.get(key))

    def get_expiry(self, key: str) -> float:
        counted = self._counted(key)
        if counted is not None:
            return counted[1]
        return self._route(lambda s: s.get_expiry(key))

    def clear(self, key: str) -> None:
        self._route(lambda s: s.clear(key))

    def check(self) -> bool:
        return True

    def redis_counter(self) -> tuple[Any, Callable[[str], str]]:
        """Where counts live on Redis: the link's client and the key prefixing. The
        response cache's LimiterCharge then counts fast-path hits in one script that
        rides on the cache entry's read (same client)."""
        return self.link.client, self.redis.prefixed_key

    def reset(self) -> int | None:
        return self.memory.reset()
