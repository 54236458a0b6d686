"""Operations behind the public API, the ``flask cache`` CLI and an app's admin API.

Every function takes the extension's ``CacheState``. ``UnknownRoute`` when an endpoint
is not a cacheable route; ``StorageUnavailable`` when the storage cannot take an
operator's action (a toggle, a purge by key or pattern: callers answer 503 or exit
non-zero). Tag invalidations never raise ``StorageUnavailable``: they are journaled
and applied when the store answers (``core.py`` rule 2).

- ``list_routes``: every cacheable route with its scope, effective and default TTL,
  enabled flag and counters (toggles read from the store now).
- ``set_route``: enable/disable a route or set its TTL at runtime (a toggle). A TTL
  change also purges the route's entries (bounded SCAN; with the in-process storage,
  this process's only), so the new lifetime applies at once rather than after the old
  one runs out. A disable purges nothing: entries
  stored before it may be served again after an enable, until they expire.
- ``purge``: by ``tag`` (O(1) in the keys the store holds, durable), by ``key`` (one
  entry name, an ``http:`` response name or a value key; a value key is purged through
  its ``key:`` tag, so durably) or by ``pattern`` (entry names matching a glob, by a
  prefix-scoped SCAN bounded by ``limit``; never KEYS, never FLUSHDB).
- ``stats``: per-endpoint counters of every process sharing the storage, plus the
  journal's pending and replayed invalidations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .journal import JournalUnavailable
from .keys import NAME_PREFIX, endpoint_pattern
from .routes import CachedRoute
from .state import CacheState
from .stats import COUNTERS
from .storage import StorageUnavailable
from .toggles import RouteToggle
from .trust import REPLAYED_FIELD
from .values import key_tag

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
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1):
        raise ValueError(f"ttl must be a whole number of seconds >= 1, got {ttl!r}")
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


def invalidate_tags(state: CacheState, tags: Sequence[str], recorded: int | None = None) -> bool:
    """Journal and apply; whether the store took them now (else they are pending).

    With the cache switched off nothing is applied: a durable journal keeps the entry
    pending, so a process that switches the cache back on replays it before it trusts
    the store again (entries stored before the switch-off must not come back stale).
    """
    names = _tags(tags)
    if not state.settings.enabled:
        if recorded is None and state.core.journal.durable:
            state.core.journal.record_now(names)
        return False
    if recorded is not None:
        return state.core.invalidate_recorded(recorded, names)
    return state.core.invalidate(names)


def _tags(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    names = list(tags)
    if not names or not all(isinstance(tag, str) and tag for tag in names):
        raise ValueError("give one or more non-empty tag names")
    return names


def purge_key(state: CacheState, key: str) -> list[str]:
    """Remove one entry by name; its name when something was removed or queued."""
    if not key:
        raise ValueError("give a key")
    if not key.startswith(NAME_PREFIX):
        invalidate_tags(state, [key_tag(key)])  # a value: durably, through its tag
        return [key]
    epoch = state.core.trusted_epoch()
    if epoch is None:
        raise StorageUnavailable("the cache is not trusted right now (store or journal down)")
    deleted = state.core.storage.delete([state.core.storage.layout.entry(epoch, key)])
    return [key] if deleted else []


def purge_pattern(
    state: CacheState, pattern: str, *, dry_run: bool, limit: int = DEFAULT_PURGE_LIMIT
) -> list[str]:
    """Keys of entries whose name matches ``pattern`` (deleted unless ``dry_run``)."""
    if not pattern or limit < 1:
        raise ValueError("give a non-empty pattern and a positive limit")
    storage = state.core.storage
    keys = storage.scan(storage.layout.entry_pattern(pattern), limit)
    if keys and not dry_run:
        for start in range(0, len(keys), 500):
            storage.delete(keys[start : start + 500])
    return keys


def stats(state: CacheState) -> dict[str, dict[str, int]]:
    state.counters.flush()
    return state.counters.read()


def journal_stats(state: CacheState) -> dict[str, int]:
    """Invalidations still waiting in the journal, and how many were applied late.

    An unreadable journal gives -1 pending. Raises ``StorageUnavailable`` when the
    store is down (``replayed`` lives there).
    """
    core = state.core
    replayed = core.storage.hash_get_all(core.storage.layout.stats).get(REPLAYED_FIELD, b"0")
    try:
        pending = len(core.journal.pending())
    except JournalUnavailable:
        pending = -1
    return {"pending": pending, "replayed": int(replayed)}
