"""Rate limits for cache hits answered below Flask (the response cache's fast path).

The fast path (``middleware/response_cache/fast_path.py``) answers hits before
Flask-Limiter's ``before_request`` hook could run. ``LimiterCharge`` is the
``charge`` hook it calls instead: it counts the request in the very bucket
Flask-Limiter would, on the same storage, so the count is joint (a client's
hits on the fast path and its other requests on Flask share one window).

Contract:

- **The bucket.** Flask-Limiter counts the application-wide ``api`` limit
  (``rate_limits``: ``RATELIMIT_API``, shared, scope ``api``, keyed by
  ``client_address``) with ``strategy.hit(item, [prefix,] key, "api")``; the
  limit item builds the storage key ``LIMITER/<key>/api/<amount>/<multiples>/
  <granularity>``, which ``FailoverStorage`` prefixes with ``rl:`` on Redis.
  Here the key is ``rate_limits.address_key(REMOTE_ADDR)`` (IPv6 by /64) and
  the path test is ``rate_limits.is_api_path``: the same functions.
- **One round trip.** On Redis (the limiter's ``FailoverStorage`` on the same client
  as the cache) the count rides on the cache entry's read (``commands``: sent right
  behind the GET, see ``RedisStorage.get_with``): a Lua script doing what limits'
  ``incr_expire.lua`` does (INCRBY, EXPIRE when the key is new) and also returning the
  key's TTL, so the headers need no further reads (Flask-Limiter reads them back with
  two more calls). A pipeline, not a transaction: the limiter's keys are in other
  cluster slots than the cache's ``{rc}`` keys. Otherwise the request is counted after
  its HIT was found (``charge``): with the same script on the link (Redis' own
  failure handling: the breaker, then this process's memory counters, as
  ``FailoverStorage`` does), or with the limiter's strategy (``hit`` then
  ``get_window_stats``) on any other storage (embedded mode). An error reply to the
  piggy-backed script (NOSCRIPT after a restart or failover) means it did not run: the
  request is then counted by ``charge``, which loads the script again.
- **Exactly once.** Every counted request gets ``rate_limits.PRECHARGED`` in
  its environ, and, when allowed, its headers under ``rate_limits.COUNTED_HEADERS``;
  should the fast path hand it on to Flask afterwards (the pipelined count comes
  before the entry is known to be a hit), neither ``api_limit`` nor Flask-Limiter
  counts it again and the Flask path adds those headers. A request the fast path hands
  on before counting (no ticket, store unavailable) is counted by Flask alone.
  A pipeline lost mid-flight (Redis dying) may be counted twice, once per
  side, which the outage policy (per-process counts, D5) already allows.
- **Headers.** The answer gets what the Flask path adds to a hit:
  ``X-RateLimit-Limit``, ``-Remaining`` (what is left after this request),
  ``-Reset`` (epoch second after the window ends), ``RateLimit-Policy`` and
  ``RateLimit`` (``rate_limits.add_standard_headers``). Over the limit the
  answer is the Flask path's 429: ``errors.json_error``'s body ("Too many
  requests: limit is <limit>."), ``Cache-Control: no-store``, the same headers
  with ``Retry-After`` (seconds to the window's reset).
- **The Flask path** uses the same charge (``api_limit.py``): one round trip per
  request there too, where Flask-Limiter would make three.
- **When it declines** (returns None: the request goes to Flask, uncounted):
  the limiter is set up in a way not reproduced here (meta limits, default
  limits, request filters, another strategy, an ``api`` limit other than
  rate_limits' own or one whose cost ignores ``PRECHARGED``, a ``RATELIMIT_API``
  of several limits) or the endpoint has
  limits of its own (decorated, blueprint, hinted), or Flask-Limiter's own
  fallback is engaged. Exempt endpoints and paths outside ``/api/`` are free:
  no count, no headers, as on Flask.
- ``ACCOUNTED_HOOKS``: Flask-Limiter's request hooks and
  ``rate_limits.add_standard_headers``, which a fast hit may skip because this
  adapter does their work.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from flask import Flask
from flask_limiter import ExemptionScope, Limiter
from flask_limiter.util import get_qualified_name
from limits import RateLimitItem, parse_many
from limits.strategies import FixedWindowRateLimiter

import errors
import rate_limits
from limiter_storage import FailoverStorage
from middleware.response_cache.fast_path import FREE, ChargeTicket, Verdict, hook_name, remember
from middleware.response_cache.replies import Reply

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# limits' incr_expire.lua, plus the key's TTL so no second read is needed for the headers.
INCR_EXPIRE_TTL = """
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {current, redis.call('TTL', KEYS[1])}
"""

ACCOUNTED_HOOKS = frozenset(
    {
        "flask_limiter._extension.Limiter._check_request_limit",
        "flask_limiter._extension.Limiter.__inject_headers",
        "flask_limiter._extension.Limiter.__release_context",
        hook_name(rate_limits.add_standard_headers),
    }
)

# Per-process memos (client address keys, Redis keys): oldest first out beyond this.
MEMO_MAX = 4096
_DECLINE = "decline"
_FREE = "free"
_CHARGE = "charge"


@dataclass(frozen=True, slots=True)
class _Limit:
    item: RateLimitItem
    amount: int
    window: int
    policy: str  # RateLimit-Policy value


class LimiterCharge:
    """The fast path's ``charge`` hook for this app's limiter (see the module docstring)."""

    def __init__(self, app: Flask, pipeline_client: Any = None) -> None:
        """``pipeline_client``: the cache storage's Redis client; counts ride on its reads
        when it is the client the limiter's storage uses (also settable later with
        ``use_pipeline``)."""
        self.app = app
        self.limiter: Limiter = app.extensions["rate_limits"]
        self._plans: dict[str, str] = {}
        self._limits: dict[str, _Limit | None] = {}
        self._refusals: dict[str, tuple[bytes, str]] = {}
        self._prefix = ""
        self._usable = self.limiter.enabled and self._supported()
        storage = self.limiter.storage if self._usable else None
        self._addresses: dict[str | None, str] = {}
        self._keys: dict[tuple[RateLimitItem, str], str] = {}
        # On FailoverStorage, one script call counts and reads the TTL (else limits'
        # strategy: hit, then get_window_stats, as Flask-Limiter does).
        self.failover = storage if isinstance(storage, FailoverStorage) else None
        self.pipelined = False
        self.use_pipeline(pipeline_client)
        self.script_sha = ""
        self._redis_prefix = ""
        if self.failover is not None:
            self._script = self.failover.link.client.register_script(INCR_EXPIRE_TTL)
            self.script_sha = self._script.sha
            self._redis_prefix = self.failover.redis.prefixed_key("")
            self._memory = FixedWindowRateLimiter(self.failover.memory)

    @property
    def usable(self) -> bool:
        """Whether this charge reproduces the app's limiter (else it always declines)."""
        return self._usable

    def use_pipeline(self, client: Any) -> None:
        """Let counts ride on reads made with ``client`` when the limiter's storage uses
        that very client (the response cache's Redis storage, for the fast path)."""
        self.pipelined = self.failover is not None and (
            client is not None and self.failover.link.client is client
        )

    # -- set-up checks -----------------------------------------------------------

    def _supported(self) -> bool:
        """Is the limiter configured exactly the way this adapter reproduces?"""
        limiter = self.limiter
        manager = limiter.limit_manager
        app_limits = list(getattr(manager, "_application_limits", None) or [])
        self._prefix = str(getattr(limiter, "_key_prefix", "") or "")
        return (
            isinstance(limiter.limiter, FixedWindowRateLimiter)
            and not getattr(limiter, "_meta_limits", [True])
            # No request filter but api_limit's own (it exempts what was counted here).
            and all(
                f is rate_limits.counted_elsewhere
                for f in getattr(limiter, "_request_filters", [None])
            )
            and not getattr(manager, "_default_limits", [True])
            and len(app_limits) == 1
            and app_limits[0].scope == rate_limits.API_POLICY
            and app_limits[0].shared
            and not app_limits[0].per_method
            and not app_limits[0].methods
            and app_limits[0].deduct_when is None
            and app_limits[0].cost is rate_limits.api_cost  # honours PRECHARGED
            and not app_limits[0].meta_limits
            and app_limits[0].exempt_when is rate_limits.outside_api
            and app_limits[0].key_function in (None, rate_limits.client_address)
            and limiter._key_func is rate_limits.client_address
        )

    def _plan(self, endpoint: str) -> str:
        plan = self._plans.get(endpoint)
        if plan is not None:
            return plan
        app, manager = self.app, self.limiter.limit_manager
        blueprint = endpoint.rpartition(".")[0] or None
        view = app.view_functions.get(endpoint)
        with app.app_context():  # limit providers read current_app.config
            own = manager.decorated_limits(get_qualified_name(view) if view else "")
            if blueprint:
                own += manager.blueprint_limits(app, blueprint)
            exempt = manager.exemption_scope(app, endpoint, blueprint)
        if own or manager.has_hints(endpoint) or endpoint.split(".")[-1] == "static":
            plan = _DECLINE
        elif exempt & ExemptionScope.APPLICATION:
            plan = _FREE
        else:
            plan = _CHARGE
        self._plans[endpoint] = plan
        return plan

    def _limit(self) -> _Limit | None:
        text = str(self.app.config["RATELIMIT_API"])
        if text in self._limits:
            return self._limits[text]
        items = parse_many(text)
        limit = None
        if len(items) == 1:
            item = items[0]
            window = item.get_expiry()
            policy = f'"{rate_limits.API_POLICY}";q={item.amount};w={window}'
            limit = _Limit(item, item.amount, window, policy)
        self._limits[text] = limit
        return limit

    # -- the hook --------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, endpoint: str) -> ChargeTicket | None:
        if not self.limiter.enabled:
            return FREE
        if not self._usable:
            return None
        plan = self._plan(endpoint)
        if plan == _DECLINE or self.limiter._storage_dead:
            return None
        path = "/" + str(environ.get("PATH_INFO", "")).lstrip("/")  # request.path
        if plan == _FREE or not rate_limits.is_api_path(path):
            return FREE
        limit = self._limit()
        if limit is None:
            return None
        remote = environ.get("REMOTE_ADDR")
        address = self._addresses.get(remote)
        if address is None:
            address = rate_limits.address_key(remote)
            remember(self._addresses, remote, address, MEMO_MAX)
        identifiers = [address, rate_limits.API_POLICY]
        if self._prefix:
            identifiers.insert(0, self._prefix)
        return _Ticket(self, environ, limit, identifiers)

    def redis_key(self, limit: _Limit, identifiers: list[str]) -> str:
        """The Redis key FailoverStorage counts ``limit`` for these identifiers under."""
        memo = (limit.item, identifiers[-2])
        key = self._keys.get(memo)
        if key is None:
            key = self._redis_prefix + limit.item.key_for(*identifiers)
            remember(self._keys, memo, key, MEMO_MAX)
        return key

    # -- verdicts --------------------------------------------------------------------

    def verdict(self, limit: _Limit, allowed: bool, remaining: int, reset_at: float) -> Verdict:
        """Flask-Limiter's and add_standard_headers' headers, or the Flask path's 429."""
        now = time.time()
        remaining = max(0, remaining)
        headers = [
            ("X-RateLimit-Limit", str(limit.amount)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", str(int(reset_at + 1))),
        ]
        standard = [
            ("RateLimit-Policy", limit.policy),
            (
                "RateLimit",
                f'"{rate_limits.API_POLICY}";r={remaining};t={max(0, math.ceil(reset_at - now))}',
            ),
        ]
        if allowed:
            return headers + standard
        body, content_type = self._refusal(limit.item)
        retry_after = str(int(int(reset_at + 1) - now))
        refusal = [("Content-Type", content_type), ("Cache-Control", "no-store"), *headers]
        refusal += [("Retry-After", retry_after), *standard]
        return Reply(429, refusal, body)

    def _refusal(self, item: RateLimitItem) -> tuple[bytes, str]:
        """The body and type ``errors.json_error`` gives Flask-Limiter's 429 for ``item``."""
        key = str(item)
        found = self._refusals.get(key)
        if found is None:
            with self.app.app_context():
                response = errors.json_error(429, f"Too many requests: limit is {item}.")
            found = (response.get_data(), response.headers["Content-Type"])
            self._refusals[key] = found
        return found

    def count_on_redis(self, limit: _Limit, identifiers: list[str]) -> tuple[int, int]:
        """``(count, ttl)`` after counting on Redis (the script; loaded again after a
        restart); raises ``redis.RedisError`` when Redis is unavailable."""
        assert self.failover is not None
        key = self.redis_key(limit, identifiers)
        result = self.failover.link.execute(
            lambda client: self._script(keys=[key], args=[limit.window, 1], client=client)
        )
        return int(result[0]), int(result[1])

    def count_in_memory(self, limit: _Limit, identifiers: list[str]) -> tuple[bool, int, float]:
        """What ``FailoverStorage`` does without Redis: this process's own counters."""
        allowed = self._memory.hit(limit.item, *identifiers)
        reset_at, remaining = self._memory.get_window_stats(limit.item, *identifiers)
        return allowed, remaining, reset_at


class _Ticket:
    __slots__ = ("environ", "identifiers", "limit", "owner")

    def __init__(
        self,
        owner: LimiterCharge,
        environ: WSGIEnvironment,
        limit: _Limit,
        identifiers: list[str],
    ) -> None:
        self.owner = owner
        self.environ = environ
        self.limit = limit
        self.identifiers = identifiers

    def commands(self) -> list[tuple[Any, ...]]:
        owner = self.owner
        if not owner.pipelined:
            return []
        key = owner.redis_key(self.limit, self.identifiers)
        return [("EVALSHA", owner.script_sha, 1, key, self.limit.window, 1)]

    def settle(self, results: list[Any]) -> Verdict:
        result = results[0]
        if isinstance(result, Exception):
            # An error reply (NOSCRIPT after a restart or failover): the script did
            # not run, nothing was counted; count now (the script gets loaded again).
            return self.charge()
        return self._counted_on_redis(int(result[0]), int(result[1]))

    def charge(self) -> Verdict:
        owner, limit = self.owner, self.limit
        if owner.failover is not None:
            try:
                count, ttl = owner.count_on_redis(limit, self.identifiers)
            except redis.RedisError:
                allowed, remaining, reset_at = owner.count_in_memory(limit, self.identifiers)
                return self._counted(allowed, remaining, reset_at)
            return self._counted_on_redis(count, ttl)
        strategy = owner.limiter.limiter
        allowed = strategy.hit(limit.item, *self.identifiers)
        reset_at, remaining = strategy.get_window_stats(limit.item, *self.identifiers)
        return self._counted(allowed, remaining, reset_at)

    def _counted_on_redis(self, count: int, ttl: int) -> Verdict:
        amount = self.limit.amount
        return self._counted(count <= amount, amount - count, max(ttl, 0) + time.time())

    def _counted(self, allowed: bool, remaining: int, reset_at: float) -> Verdict:
        """The verdict, with the request marked as counted (and, when allowed, its
        headers kept for the Flask path, should the request be handed on)."""
        self.environ[rate_limits.PRECHARGED] = True
        verdict = self.owner.verdict(self.limit, allowed, remaining, reset_at)
        if not isinstance(verdict, Reply):
            self.environ[rate_limits.COUNTED_HEADERS] = verdict
        return verdict
