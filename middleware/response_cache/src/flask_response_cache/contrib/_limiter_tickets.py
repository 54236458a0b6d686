"""How ``LimiterCharge`` counts one request: all or nothing, on Redis or any storage.

- ``ScriptTicket``: one Lua script (``CHARGE_ALL_OR_NOTHING``) charges every limit of the
  request or none, riding on the cache entry's read when the charge is pipelined (same
  Redis), else in one round trip of its own after the hit was found. A script the server
  lost (NOSCRIPT) did not run: it is loaded again and the request is counted elsewhere.
- ``StrategyTicket``: any storage and strategy: the limiter's own ``test`` of every limit,
  then ``hit`` of each (a racing request may slip one over), then the window stats.

Both verdicts are the charge's headers, or None (over a limit: nothing charged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..charge import NOT_RUN, Verdict
from .limiter_headers import LimitState

if TYPE_CHECKING:
    from .flask_limiter import LimiterCharge, _Bucket

log = logging.getLogger("flask_response_cache")

# Flask-Limiter's fixed window (limits' incr_expire.lua), for several keys at once and
# all or nothing: when any counter would pass its limit nothing is counted ({0});
# otherwise every counter is increased and {1, count1, ttl1, count2, ttl2, ...} returned.
# ARGV: (amount, expiry seconds, cost) per key.
CHARGE_ALL_OR_NOTHING = """
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current + tonumber(ARGV[3 * i]) > tonumber(ARGV[3 * i - 2]) then return {0} end
end
local out = {1}
for i = 1, #KEYS do
  local cost = tonumber(ARGV[3 * i])
  local current = redis.call('INCRBY', KEYS[i], cost)
  if tonumber(current) == cost then redis.call('EXPIRE', KEYS[i], ARGV[3 * i - 1]) end
  out[#out + 1] = current
  out[#out + 1] = redis.call('TTL', KEYS[i])
end
return out
"""


class ScriptTicket:
    """All or nothing in one Lua script (riding on the entry's read when pipelined)."""

    __slots__ = ("counted", "keys", "owner")

    def __init__(self, owner: LimiterCharge, counted: list[tuple[_Bucket, list[str]]]) -> None:
        self.owner = owner
        self.counted = counted
        self.keys = [owner.redis_key(bucket, args) for bucket, args in counted]

    def _argv(self) -> list[int]:
        argv: list[int] = []
        for bucket, _ in self.counted:
            argv += [bucket.item.amount, bucket.item.get_expiry(), bucket.cost]
        return argv

    def commands(self) -> Sequence[tuple[Any, ...]]:
        owner = self.owner
        if not owner.pipelined:
            return ()
        return [("EVALSHA", owner.script_sha, len(self.keys), *self.keys, *self._argv())]

    def settle(self, replies: list[Any]) -> Verdict:
        reply = replies[0]
        if isinstance(reply, Exception):  # NOSCRIPT after a restart: it did not run
            from redis.exceptions import NoScriptError

            if isinstance(reply, NoScriptError):
                self.owner.load_script()
            return NOT_RUN
        return self._verdict(reply)

    def charge(self) -> Verdict:
        owner = self.owner
        import redis  # the storage is a Redis one: redis-py is installed

        try:
            reply = owner._script(keys=self.keys, args=self._argv(), client=owner.client)
        except redis.RedisError:
            owner.redis_failed()
            return None  # Flask counts it, on the limiter's own failure handling
        return self._verdict(reply)

    def _verdict(self, reply: Any) -> Verdict:
        if not reply or int(reply[0]) != 1:
            return None
        now = time.time()
        states = []
        for index, (bucket, _) in enumerate(self.counted):
            count, ttl = int(reply[1 + 2 * index]), int(reply[2 + 2 * index])
            remaining = max(0, bucket.item.amount - count)
            reset_at = now + max(ttl, 0)
            states.append(
                (bucket, LimitState(bucket.item, bucket.scope, bucket.shared, remaining, reset_at))
            )
        return self.owner.verdict(states)


class StrategyTicket:
    """Any storage and strategy: the limiter's own ``test``, then ``hit``."""

    __slots__ = ("counted", "owner")

    def __init__(self, owner: LimiterCharge, counted: list[tuple[_Bucket, list[str]]]) -> None:
        self.owner = owner
        self.counted = counted

    def commands(self) -> Sequence[tuple[Any, ...]]:
        return ()

    def settle(self, replies: list[Any]) -> Verdict:
        return NOT_RUN

    def charge(self) -> Verdict:
        strategy = self.owner.limiter.limiter
        try:
            for bucket, args in self.counted:
                if not strategy.test(bucket.item, *args, cost=bucket.cost):
                    return None
            for bucket, args in self.counted:
                strategy.hit(bucket.item, *args, cost=bucket.cost)
            states = []
            for bucket, args in self.counted:
                reset_at, remaining = strategy.get_window_stats(bucket.item, *args)
                state = LimitState(bucket.item, bucket.scope, bucket.shared, remaining, reset_at)
                states.append((bucket, state))
        except Exception:  # the storage failed: Flask-Limiter's own handling decides
            log.debug("rate-limit storage failed below Flask", exc_info=True)
            return None
        return self.owner.verdict(states)
