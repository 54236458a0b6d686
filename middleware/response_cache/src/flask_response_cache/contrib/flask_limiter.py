"""Fast-path hits counted by Flask-Limiter's own limits: ``LimiterCharge``.

A cache hit answered below Flask (``fast_path.py``) never reaches Flask-Limiter's
``before_request`` check. ``LimiterCharge`` counts it instead, in the very buckets
Flask-Limiter would have counted it in (same storage, same keys, same windows), so a
client's fast hits and its other requests share one counter per limit. The
extension builds one automatically when the app has exactly one Flask-Limiter;
pass your own for what it cannot guess::

    charge = LimiterCharge(limiter, environ_functions={my_key: lambda environ: ...})
    ResponseCache(app, charge=charge)

Contract:

- **Which limits.** For each endpoint (and method) the ones Flask-Limiter resolves
  for it: application, default and blueprint limits, and the ``@limiter.limit``
  limits of a decorator above ``@cache_response``, with their exemptions. The
  charge *declines* (the hit goes to Flask, where Flask-Limiter counts it) whenever
  it cannot reproduce them exactly: meta limits, ``deduct_when``, callable scopes or
  costs, a key function, ``exempt_when`` or request filter without an environ
  equivalent, a custom ``request_identifier``, Flask-Limiter's own in-memory fallback
  engaged, or a Flask-Limiter version outside the tested range.
- **Environ equivalents.** Below Flask there is no request context, so every
  callable a limit evaluates per request needs a twin that reads the WSGI environ:
  ``environ_functions={callable: environ_callable}``. ``get_remote_address`` has one
  built in (``REMOTE_ADDR``, as behind ``ProxyFix``).
- **All or nothing.** Either every applicable limit is charged and the hit is
  answered, or (over a limit) none is and the request goes to Flask uncounted, where
  Flask-Limiter counts it and answers its own 429. On limits' Redis storages with
  the fixed-window strategy one Lua script does it atomically, riding on the cache
  entry's read when the cache and the limiter use the same Redis (one round trip for
  hit and count); on other storages or strategies the limiter's own ``test`` then
  ``hit`` (a racing request may slip one over). A storage that wraps Redis can offer
  the one-script path with ``redis_counter() -> (client, prefixed_key) | None``.
- **Exactly once.** A request charged on the fast path and then handed to Flask (a
  miss) is skipped by Flask-Limiter through a request filter this charge adds
  (``charge.COUNTED`` in its environ), and gets the charge's headers.
- **Headers.** ``headers(states)`` formats them; the default reproduces
  Flask-Limiter's ``X-RateLimit-*`` and ``Retry-After`` (its ``headers_enabled``,
  header names and ``Retry-After`` format). An app that adds headers of its own
  passes one formatter for both paths (``states_of(limiter.current_limits)`` gives the
  same states on the Flask path).
- **Hooks.** ``covers(hook_or_layer)`` tells the fast path that this charge stands in
  for Flask-Limiter's three request hooks and its ``@limiter.limit`` layers.

Every private detail of Flask-Limiter used here is in ``_flask_limiter_compat.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem
from limits.storage import RedisClusterStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter

from ..charge import COUNTED, FREE, ChargeTicket, Headers, remember
from ..flask_view import CACHED_VIEW_CODE
from ..safety import unwrap_hook
from . import _flask_limiter_compat as compat
from ._limiter_tickets import CHARGE_ALL_OR_NOTHING, ScriptTicket, StrategyTicket
from .limiter_headers import HeaderFormatter, LimitState, flask_limiter_headers, states_of

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "KNOWN_ENVIRON_FUNCTIONS",
    "HeaderFormatter",
    "LimitState",
    "LimiterCharge",
    "flask_limiter_headers",
    "states_of",
]

log = logging.getLogger("flask_response_cache")

EnvironFunction = Callable[["WSGIEnvironment"], Any]

MEMO_MAX = 4096
_UNPLANNED: Any = object()
# After Redis failed a charge, how long this process lets Flask count instead.
REDIS_BACKOFF = 1.0


def _remote_address(environ: WSGIEnvironment) -> str:
    return str(environ.get("REMOTE_ADDR") or "127.0.0.1")


KNOWN_ENVIRON_FUNCTIONS: Mapping[Any, EnvironFunction] = {get_remote_address: _remote_address}


@dataclass(frozen=True, slots=True)
class _Bucket:
    """One limit of one endpoint and method, as the fast path counts it."""

    item: RateLimitItem
    scope: str
    shared: bool
    cost: int
    prefix: str
    key_from: EnvironFunction
    exempt_from: EnvironFunction | None
    group: int  # which of Flask-Limiter's evaluations counts it

    def args(self, environ: WSGIEnvironment) -> list[str] | None:
        """Flask-Limiter's request arguments for this limit; None: it skips the limit."""
        if self.exempt_from is not None and self.exempt_from(environ):
            return None
        key = self.key_from(environ)
        if not key or not self.scope:
            return None  # Flask-Limiter skips a limit with an empty value
        return [self.prefix, key, self.scope] if self.prefix else [key, self.scope]


class _Declined(Exception):
    """This limit cannot be reproduced below Flask."""


class LimiterCharge:
    """The fast path's ``Charge`` for one Flask-Limiter (see the module docstring)."""

    def __init__(
        self,
        limiter: Limiter,
        *,
        environ_functions: Mapping[Any, EnvironFunction] | None = None,
        headers: HeaderFormatter | None = None,
    ) -> None:
        self.limiter = limiter
        self.environ_functions = {**KNOWN_ENVIRON_FUNCTIONS, **(environ_functions or {})}
        self._headers = headers
        self._app: Flask | None = None
        self._plans: dict[tuple[str, str], tuple[_Bucket, ...] | None] = {}
        self._keys: dict[tuple[Any, ...], str] = {}
        self._redis_until = float("-inf")
        self.client: Any = None  # the limiter's Redis client, for the one-script path
        self._prefixed: Callable[[str], str] | None = None
        self.pipelined = False
        self._cluster = False
        self._script: Any = None
        self.script_sha = ""

    @classmethod
    def for_app(cls, app: Flask) -> LimiterCharge | None:
        """The charge of the app's one Flask-Limiter, or None (none, or several)."""
        limiters = app.extensions.get("limiter") or ()
        if len(limiters) != 1:
            if limiters:
                log.warning(
                    "flask-response-cache: %d Flask-Limiter instances on one app; fast-path"
                    " hits go through Flask (pass charge=LimiterCharge(...) to choose)",
                    len(limiters),
                )
            return None
        return cls(next(iter(limiters)))

    # -- set-up (by the extension, once per app) --------------------------------------

    def attach(self, app: Flask, cache_client: Any | None) -> None:
        """Bind to ``app``; ``cache_client``: the cache storage's Redis client, on which
        charges ride with entry reads when it is the limiter's Redis too."""
        self._app = app
        if _counted_by_cache not in compat.request_filters(self.limiter):
            self.limiter.request_filter(_counted_by_cache)
        if self._headers is None:
            self._headers = flask_limiter_headers(self.limiter)
        if not self.limiter.enabled:
            return  # RATELIMIT_ENABLED=false: nothing to count, and no storage to look at
        side = _redis_side(self.limiter)
        if side is None or not isinstance(self.limiter.limiter, FixedWindowRateLimiter):
            return
        self.client, self._prefixed = side
        self._cluster = hasattr(self.client, "get_node_from_key") or hasattr(
            self.client, "user_on_connect_func"
        )
        self._script = self.client.register_script(CHARGE_ALL_OR_NOTHING)
        self.script_sha = self._script.sha
        self.pipelined = cache_client is not None and _same_server(cache_client, self.client)

    def load_script(self) -> None:
        """Put the charge script on the server, after a riding ``EVALSHA`` found it
        missing (so the server answers: no timeout to fear). Best effort: until it is
        there, those requests are counted by ``charge()`` or by Flask."""
        import redis  # the storage is a Redis one: redis-py is installed

        try:
            self.client.script_load(CHARGE_ALL_OR_NOTHING)
        except redis.RedisError:
            self.redis_failed()

    def covers(self, obj: Any) -> str | None:
        """Whether this charge stands in for ``obj`` (a request hook or a view layer)."""
        function, instance = unwrap_hook(obj)
        if instance is self.limiter and (function, instance) in compat.request_hooks(self.limiter):
            return "counted by the response cache's LimiterCharge"
        if compat.is_limit_layer(obj) and compat.marked_by(obj, self.limiter):
            return "counted by the response cache's LimiterCharge"
        return None

    # -- the hook ----------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, endpoint: str) -> ChargeTicket | None:
        limiter = self.limiter
        if not limiter.enabled:
            return FREE
        if compat.storage_dead(limiter) or self._app is None:
            return None
        method = str(environ.get("REQUEST_METHOD"))
        plan_key = (endpoint, method)
        buckets = self._plans.get(plan_key, _UNPLANNED)
        if buckets is _UNPLANNED:
            buckets = self._plan(endpoint, method)
            self._plans[plan_key] = buckets
        if buckets is None:
            return None
        if self._filtered(environ):
            return FREE
        counted = []
        for bucket in buckets:
            args = bucket.args(environ)
            if args is not None:
                counted.append((bucket, args))
        if not counted:
            return FREE
        one_slot = not self._cluster or len(counted) == 1  # a script touches one slot
        if self.client is not None and one_slot and time.monotonic() >= self._redis_until:
            return ScriptTicket(self, counted)
        return StrategyTicket(self, counted)

    def _filtered(self, environ: WSGIEnvironment) -> bool:
        for request_filter in compat.request_filters(self.limiter):
            if request_filter is _counted_by_cache:
                continue
            twin = self.environ_functions.get(request_filter)
            if twin is None:
                raise RuntimeError("unreachable: filters without twins are declined")
            if twin(environ):
                return True
        return False

    # -- plans: which limits, once per endpoint and method -----------------------------

    def _plan(self, endpoint: str, method: str) -> tuple[_Bucket, ...] | None:
        assert self._app is not None
        try:
            self._check_supported()
            groups = compat.limits_for(
                self.limiter, self._app, endpoint, self._has_limit_layer(endpoint)
            )
            buckets: list[_Bucket] = []
            for group, limits in enumerate(groups):
                for limit in sorted(limits, key=lambda x: x.limit):
                    bucket = self._bucket(limit, endpoint, method, group)
                    if bucket is not None:
                        buckets.append(bucket)
            return tuple(buckets)
        except _Declined as why:
            log.info("flask-response-cache: %s hits go through Flask: %s", endpoint, why)
            return None

    def _check_supported(self) -> None:
        limiter = self.limiter
        if not compat.version_supported():
            raise _Declined("Flask-Limiter version outside the tested range")
        if compat.has_meta_limits(limiter):
            raise _Declined("meta limits")
        if not compat.identifies_by_endpoint(limiter):
            raise _Declined("a custom request_identifier")
        for request_filter in compat.request_filters(limiter):
            if (
                request_filter is not _counted_by_cache
                and request_filter not in self.environ_functions
            ):
                raise _Declined(f"request filter {request_filter!r} has no environ equivalent")

    def _bucket(self, limit: Any, endpoint: str, method: str, group: int) -> _Bucket | None:
        if limit.methods is not None and method.lower() not in limit.methods:
            return None  # method_exempt
        if limit.deduct_when is not None or limit.meta_limits:
            raise _Declined("deduct_when or per-limit meta limits")
        if callable(limit.scope) or callable(limit.cost):
            raise _Declined("a callable scope or cost")
        key_from = self.environ_functions.get(limit.key_func)
        if key_from is None:
            raise _Declined(f"key function {limit.key_func!r} has no environ equivalent")
        exempt_from = None
        if limit.exempt_when is not None:
            exempt_from = self.environ_functions.get(limit.exempt_when)
            if exempt_from is None:
                raise _Declined(f"exempt_when {limit.exempt_when!r} has no environ equivalent")
        return _Bucket(
            item=limit.limit,
            scope=limit.scope_for(endpoint, method),
            shared=bool(limit.shared),
            cost=int(limit.cost),
            prefix=compat.key_prefix(self.limiter),
            key_from=key_from,
            exempt_from=exempt_from,
            group=group,
        )

    def _has_limit_layer(self, endpoint: str) -> bool:
        assert self._app is not None
        layer = self._app.view_functions.get(endpoint)
        while layer is not None and getattr(layer, "__code__", None) is not CACHED_VIEW_CODE:
            if compat.is_limit_layer(layer) and compat.marked_by(layer, self.limiter):
                return True
            layer = getattr(layer, "__wrapped__", None)
        return False

    # -- counting ----------------------------------------------------------------------

    def redis_key(self, bucket: _Bucket, args: list[str]) -> str:
        memo = (bucket.item, *args)
        key = self._keys.get(memo)
        if key is None:
            assert self._prefixed is not None
            key = self._prefixed(bucket.item.key_for(*args))
            remember(self._keys, memo, key, MEMO_MAX)
        return key

    def verdict(self, states: Sequence[tuple[_Bucket, LimitState]]) -> Headers:
        """The headers Flask-Limiter's last evaluation would give this request."""
        assert self._headers is not None
        if not states:
            return self._headers([])
        last = max(bucket.group for bucket, _ in states)
        return self._headers([state for bucket, state in states if bucket.group == last])

    def redis_failed(self) -> None:
        self._redis_until = time.monotonic() + REDIS_BACKOFF


def _counted_by_cache() -> bool:
    """Flask-Limiter request filter: this request was charged below Flask already."""
    from flask import request

    return COUNTED in request.environ


def _redis_side(limiter: Limiter) -> tuple[Any, Callable[[str], str]] | None:
    """``(client, prefixed_key)`` of a limiter storage that counts on Redis."""
    storage = limiter.storage
    if isinstance(storage, RedisStorage) and not isinstance(storage, RedisClusterStorage):
        return storage.get_connection(), storage.prefixed_key
    offer = getattr(storage, "redis_counter", None)
    found = offer() if callable(offer) else None
    if found is None:
        return None
    client, prefixed = found
    return client, prefixed


def _same_server(a: Any, b: Any) -> bool:
    """Whether two redis-py clients talk to the same server and database."""
    if a is b:
        return True
    pool_a, pool_b = getattr(a, "connection_pool", None), getattr(b, "connection_pool", None)
    if pool_a is None or pool_b is None:
        return False
    fields = ("host", "port", "db", "path", "username")
    kwargs_a, kwargs_b = pool_a.connection_kwargs, pool_b.connection_kwargs
    return all(kwargs_a.get(f) == kwargs_b.get(f) for f in fields)
