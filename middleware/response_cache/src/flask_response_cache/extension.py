"""``ResponseCache``: the Flask extension, and its public API.

Usage (any Flask app)::

    cache = ResponseCache(app)                # or cache = ResponseCache(); cache.init_app(app)

    @app.get("/posts")
    @cache_response(ttl=60, scope="public", tags=["posts"], query=["page"])
    def posts(): ...

    cache.invalidate_tags("posts")            # after a write; never raises for Redis
    cache.get_or_set("stats", compute, ttl=30, tags=["posts"])   # the value cache

``init_app(app)`` validates every ``RESPONSE_CACHE_*`` setting (``settings.py``), keeps
per-app state in ``app.extensions["response_cache"]`` (the extension object keeps no
app, so one instance serves many apps), registers the ``flask cache`` CLI group and
checks every route as it is registered (a declaration it cannot honour stops the app
with an error naming the route). Unless ``RESPONSE_CACHE_ENABLED`` is false it
registers its ``after_request`` and ``teardown_request`` hooks (``flask_hooks.py``)
and, unless ``RESPONSE_CACHE_FAST_PATH`` is false, wraps ``app.wsgi_app`` in the fast
hit path (``fast_path.py``). The order of ``init_app`` calls does not matter: the
cache is consulted inside the view, after every hook (``flask_view.py``).

Storage: ``storage=`` hands one in (a ``RedisStorage`` sharing your client and circuit
breaker, say); otherwise it is built from the settings: Redis at
``RESPONSE_CACHE_REDIS_URL`` (short timeouts, no retries, a circuit breaker: a hung
Redis costs one timeout per process, then nothing), else the in-process
``MemoryStorage``. ``journal=`` makes invalidations durable (default: kept in this
process's memory until the store takes them). ``toggle_store=`` keeps runtime toggles
somewhere every process reads (default: the cache storage). ``user_id=`` loads the
current user's id for ``scope="user"`` routes (default: Flask-Login's, when installed).
``charge=`` counts fast-path hits with the rate limiter (default: the app's
Flask-Limiter, when it has one). ``core=`` hands in a whole ``CacheCore`` instead of
``storage``/``journal`` (tests drive its clocks). ``rule_environ_key`` is where the
fast path leaves the matched URL rule for an outer WSGI layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from flask import Flask, current_app

from . import flask_hooks, ops
from .breaker import CircuitBreaker
from .charge import Charge
from .cli import cache_cli
from .core import CacheCore
from .journal import Journal
from .layout import Layout
from .routes import RouteDefaults, RouteTable
from .settings import ResponseCacheConfigError, Settings, load_settings
from .state import EXTENSION_KEY, CacheState, UserIdLoader
from .stats import Counters
from .storage import MemoryStorage, NullStorage, Storage
from .toggles import StorageToggleStore, ToggleStore, ToggleView
from .values import Serializer, ValueCache

T = TypeVar("T")


def build_storage(settings: Settings) -> Storage:
    """The storage the settings describe (Redis with a breaker, memory or null)."""
    layout = Layout(settings.namespace)
    if settings.storage == "null" or not settings.enabled:
        return NullStorage(layout)
    if settings.storage == "redis":
        assert settings.redis_url is not None
        try:
            from .redis_client import connect
            from .storage.redis import RedisStorage
        except ImportError as exc:
            raise ResponseCacheConfigError(
                "RESPONSE_CACHE_REDIS_URL needs redis-py: pip install 'flask-response-cache[redis]'"
            ) from exc
        client = connect(settings.redis_url, settings.redis_timeout, settings.redis_max_connections)
        breaker = CircuitBreaker(
            "response-cache redis",
            failure_threshold=settings.breaker_failures,
            # Off the request path, every 0.25 s while open. A write, not a PING: a PING
            # passes under CLIENT PAUSE WRITE, on a read-only replica or out of memory,
            # where every store would still time out or fail.
            probe=lambda: client.set(layout.prefix + "probe", b"1", px=1000),
            probe_interval=settings.breaker_probe_interval,
        )
        return RedisStorage(client, layout, breaker=breaker)
    return MemoryStorage(layout)


def _limiter_charge(app: Flask) -> Charge | None:
    """The app's Flask-Limiter, as a charge (None when it has none)."""
    if not app.extensions.get("limiter"):
        return None
    from .contrib.flask_limiter import LimiterCharge

    return LimiterCharge.for_app(app)


class ResponseCache:
    def __init__(
        self,
        app: Flask | None = None,
        *,
        storage: Storage | None = None,
        core: CacheCore | None = None,
        journal: Journal | None = None,
        toggle_store: ToggleStore | None = None,
        user_id: UserIdLoader | None = None,
        charge: Charge | None = None,
        serializer: Serializer | None = None,
        rule_environ_key: str | None = None,
    ) -> None:
        if core is not None and (storage is not None or journal is not None):
            raise ResponseCacheConfigError("give core, or storage and journal, not both")
        self._options: dict[str, Any] = {
            "storage": storage,
            "core": core,
            "journal": journal,
            "toggle_store": toggle_store,
            "user_id": user_id,
            "charge": charge,
            "serializer": serializer,
            "rule_environ_key": rule_environ_key,
        }
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **options: Any) -> None:
        """Bind to ``app``; ``options`` (the constructor's keywords) override per app."""
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(f"init_app() got unexpected options {sorted(unknown)}")
        given = {**self._options, **{k: v for k, v in options.items() if v is not None}}
        state = _state_for(app, load_settings(app.config), given)
        app.extensions[EXTENSION_KEY] = state
        if cache_cli.name not in app.cli.commands:
            app.cli.add_command(cache_cli)
        _check_routes_as_registered(app, state)
        if state.settings.enabled:
            _register_hooks(app, state)
            if state.settings.fast_path:
                from .fast_path import FastPath

                state.fast_path = FastPath(
                    app, state, app.wsgi_app, rule_environ_key=given["rule_environ_key"]
                )
                app.wsgi_app = state.fast_path  # type: ignore[method-assign]

    # -- the public API (each acts on the current app, or on ``app``) -------------------

    @staticmethod
    def _state(app: Flask | None) -> CacheState:
        target = app if app is not None else current_app
        try:
            state: CacheState = target.extensions[EXTENSION_KEY]
        except KeyError:
            raise RuntimeError("ResponseCache.init_app(app) was not called for this app") from None
        return state

    def invalidate_tags(
        self, *tags: str, recorded: int | None = None, app: Flask | None = None
    ) -> bool:
        """Invalidate every entry (responses and values) carrying any of ``tags``.

        Never raises because Redis is down, hung or restarting: the invalidation is
        journaled, applied when the store answers, and the store is not trusted until
        then. ``recorded``: the id of a journal entry the write already recorded in its
        own transaction (``SqlJournal.record``). Returns whether it was applied now.
        """
        return ops.invalidate_tags(self._state(app), tags, recorded)

    def purge(
        self,
        *,
        key: str | None = None,
        tag: str | Sequence[str] | None = None,
        pattern: str | None = None,
        limit: int = ops.DEFAULT_PURGE_LIMIT,
        dry_run: bool = False,
        app: Flask | None = None,
    ) -> list[str]:
        """Remove entries by one ``key`` (an ``http:`` name or a value key), by ``tag``
        (like ``invalidate_tags``), or by name ``pattern`` (a glob; bounded SCAN, at most
        ``limit`` entries, listed only with ``dry_run``). Returns the names removed (for
        a tag: the tags). ``StorageUnavailable`` when a key or pattern purge cannot reach
        the storage."""
        if sum(option is not None for option in (key, tag, pattern)) != 1:
            raise TypeError("purge() takes exactly one of key=, tag= or pattern=")
        state = self._state(app)
        if key is not None:
            return ops.purge_key(state, key)
        if tag is not None:
            tags = [tag] if isinstance(tag, str) else list(tag)
            ops.invalidate_tags(state, tags)
            return tags
        assert pattern is not None
        keys = ops.purge_pattern(state, pattern, dry_run=dry_run, limit=limit)
        return [state.core.storage.layout.name_of(found) for found in keys]

    def set_route(
        self,
        endpoint: str,
        *,
        enabled: bool | None = None,
        ttl: int | None = None,
        app: Flask | None = None,
    ) -> ops.RouteInfo:
        """Enable, disable or re-time one route while the app runs (every process of the
        deployment follows within ``RESPONSE_CACHE_TOGGLE_REFRESH`` seconds when the
        toggle store is shared)."""
        return ops.set_route(self._state(app), endpoint, enabled=enabled, ttl=ttl)

    def routes(self, app: Flask | None = None) -> list[ops.RouteInfo]:
        """Every cacheable route with its effective settings and counters."""
        return ops.list_routes(self._state(app))

    def stats(self, app: Flask | None = None) -> dict[str, Any]:
        """Counters per endpoint (``values`` for the value cache), and the journal."""
        state = self._state(app)
        return {"endpoints": ops.stats(state), "invalidations": ops.journal_stats(state)}

    def get_or_set(
        self,
        key: str,
        loader: Callable[[], T],
        ttl: float,
        *,
        tags: Sequence[str] | Callable[[T], Sequence[str]] = (),
        stale_while_revalidate: float = 0.0,
        stale_if_error: float = 0.0,
        app: Flask | None = None,
    ) -> T:
        """The cached value of ``key``, or ``loader()``'s result, cached (``values.py``)."""
        state = self._state(app)
        if not state.settings.enabled:
            return loader()
        return state.values.get_or_set(
            key,
            loader,
            ttl,
            tags=tags,
            stale_while_revalidate=stale_while_revalidate,
            stale_if_error=stale_if_error,
        )

    def invalidate_keys(self, *keys: str, app: Flask | None = None) -> bool:
        """Invalidate value-cache entries by key (durably, through their ``key:`` tags)."""
        from .values import key_tag

        return self.invalidate_tags(*(key_tag(key) for key in keys), app=app)


def _state_for(app: Flask, settings: Settings, given: dict[str, Any]) -> CacheState:
    """Everything one app needs at request time (``state.py``)."""
    core: CacheCore | None = given["core"]
    if core is None:
        storage = given["storage"] or build_storage(settings)
        # A shared store is re-verified every half second; a per-process one every time.
        lease = 0.5 if storage.shared else 0.0
        core = CacheCore(storage, journal=given["journal"], trust_lease=lease)
    loader = given["user_id"] or settings.user_id_loader
    store = given["toggle_store"] or StorageToggleStore(core.storage)
    counters = Counters(core.storage, core.monotonic)
    defaults = RouteDefaults(
        settings.default_ttl, settings.overrides, partial(_can_load, app, loader)
    )
    return CacheState(
        app=app,
        settings=settings,
        core=core,
        routes=RouteTable(app, defaults),
        toggles=ToggleView(store, settings.toggle_refresh, core.monotonic),
        counters=counters,
        values=ValueCache(core, counters, given["serializer"]),
        user_id_loader=loader,
        charge_given=given["charge"],
        charge_factory=_limiter_charge,
    )


def _can_load(app: Flask, loader: UserIdLoader | None) -> bool:
    """A user id loader was given, or Flask-Login is set up on ``app``."""
    return loader is not None or getattr(app, "login_manager", None) is not None


def _register_hooks(app: Flask, state: CacheState) -> None:
    after: Any = partial(flask_hooks.after_request, state)
    teardown: Any = partial(flask_hooks.teardown_request, state)
    app.after_request(after)
    app.teardown_request(teardown)


def _check_routes_as_registered(app: Flask, state: CacheState) -> None:
    """Check each route's declaration now and as routes are added (``ResponseCacheConfigError``
    naming the route stops the app at start-up, not at its first request)."""
    for rule in list(app.url_map.iter_rules()):
        state.routes.check(rule.endpoint)
    original = app.add_url_rule

    def add_url_rule(
        rule: str, endpoint: str | None = None, view_func: Any = None, *args: Any, **kw: Any
    ) -> None:
        original(rule, endpoint, view_func, *args, **kw)
        name = endpoint or (view_func.__name__ if view_func is not None else None)
        if name is not None:
            state.routes.check(name)

    app.add_url_rule = add_url_rule  # type: ignore[method-assign]
