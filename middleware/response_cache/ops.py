"""Operator actions shared by the ``flask cache`` CLI and an app's admin API.

Every function takes the extension's ``CacheState`` and raises
``StorageUnavailable`` when the storage cannot take the action (callers
answer 503 or exit non-zero); ``UnknownRoute`` when an endpoint is not a
cacheable route.

- ``list_routes``: every cacheable route with its scope, effective and
  default TTL, enabled flag and counters (toggles read from the store now).
- ``set_route``: enable/disable a route or set its TTL at runtime (a
  toggle). A TTL change also purges the route's entries (bounded SCAN), so
  the new lifetime applies at once rather than after the old one runs out.
- ``purge_tags``: invalidate tags (O(1) in the keys the store holds), through
  the app's durable invalidation when it handed one to ``init_app``.
- ``purge_pattern``: delete entries whose *name* matches a glob, by a
  prefix-scoped SCAN bounded by ``limit`` (never KEYS, never FLUSHDB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from middleware.response_cache.core import REPLAYED_FIELD, JournalUnavailable
from middleware.response_cache.keys import endpoint_pattern
from middleware.response_cache.routes import CachedRoute
from middleware.response_cache.state import CacheState
from middleware.response_cache.stats import COUNTERS
from middleware.response_cache.storage import StorageUnavailable
from middleware.response_cache.toggles import RouteToggle

DEFAULT_PURGE_LIMIT = 10_000


class UnknownRoute(LookupError):
    """The endpoint is not a cacheable route of this app."""


@dataclass(frozen=True, slots=True)
class RouteInfo:
    endpoint: str
    rule: str
    scope: str
    ttl: float
    default_ttl: float
    enabled: bool
    counters: dict[str, int] = field(default_factory=dict)


def _route(state: CacheState, endpoint: str) -> CachedRoute:
    route = state.routes.get(endpoint)
    if route is None:
        raise UnknownRoute(endpoint)
    return route


def _toggles(state: CacheState) -> dict[str, RouteToggle]:
    try:
        return dict(state.toggles.reload())
    except StorageUnavailable:
        return dict(state.toggles.current())  # last known, still in force


def route_info(
    state: CacheState, route: CachedRoute, toggle: RouteToggle | None, counters: dict[str, int]
) -> RouteInfo:
    enabled, ttl = state.effective(route, toggle)
    return RouteInfo(route.endpoint, route.rule, route.scope, ttl, route.ttl, enabled, counters)


def list_routes(state: CacheState) -> list[RouteInfo]:
    toggles = _toggles(state)
    try:
        counters = state.counters.read()
    except StorageUnavailable:
        counters = {}
    empty = dict.fromkeys(COUNTERS, 0)
    return [
        route_info(state, route, toggles.get(route.endpoint), counters.get(route.endpoint, empty))
        for route in state.routes.all()
    ]


def set_route(
    state: CacheState, endpoint: str, *, enabled: bool | None = None, ttl: int | None = None
) -> RouteInfo:
    route = _route(state, endpoint)
    current = state.toggles.reload().get(endpoint)
    was_enabled, _ = state.effective(route, current)
    toggle = RouteToggle(
        enabled=was_enabled if enabled is None else enabled,
        ttl=(current.ttl if current else None) if ttl is None else ttl,
    )
    state.toggles.store.save(endpoint, toggle)
    state.toggles.reload()
    if ttl is not None:
        purge_pattern(state, endpoint_pattern(endpoint), dry_run=False)
    return route_info(state, route, toggle, {})


def purge_tags(state: CacheState, tags: Sequence[str]) -> None:
    state.invalidate_tags(list(tags))


def purge_pattern(
    state: CacheState, pattern: str, *, dry_run: bool, limit: int = DEFAULT_PURGE_LIMIT
) -> list[str]:
    """Keys of entries whose name matches ``pattern`` (deleted unless ``dry_run``)."""
    if not pattern or limit < 1:
        raise ValueError("give a non-empty pattern and a positive limit")
    storage = state.core.storage
    keys = storage.scan(storage.layout.entry_pattern(pattern), limit)
    if keys and not dry_run:
        storage.delete(keys)
    return keys


def stats(state: CacheState) -> dict[str, dict[str, int]]:
    state.counters.flush()
    return state.counters.read()


def journal_stats(state: CacheState) -> dict[str, int]:
    """Invalidations still waiting in the journal, and how many were applied late.

    Without a journal ``pending`` is 0; an unreadable journal gives -1. Raises
    ``StorageUnavailable`` when the store is down (``replayed`` lives there).
    """
    core = state.core
    replayed = core.storage.hash_get_all(core.storage.layout.stats).get(REPLAYED_FIELD, b"0")
    try:
        pending = len(core.journal.pending()) if core.journal is not None else 0
    except JournalUnavailable:
        pending = -1
    return {"pending": pending, "replayed": int(replayed)}
