"""Runtime toggles: enable, disable or re-time one endpoint while the app runs.

Contract:

- A toggle is ``RouteToggle(enabled, ttl)`` per endpoint, kept by a
  ``ToggleStore``. The default store keeps them in the cache storage: the
  ``{rc}:toggles`` hash (endpoint -> JSON) plus the ``{rc}:toggles:v``
  version counter, bumped *after* the hash is written, so a reader that sees
  a new version also sees the new toggle.
- Each process reads the version at most once per ``refresh`` seconds (0.5 s
  by default, on the request path, by the injected monotonic clock) and
  reloads the hash only when the version moved; every worker of every
  instance therefore honours a change within ``refresh`` + one request,
  under one second. The check costs one small GET per process per period.
- When the store is unavailable the last known toggles stay in force (the
  cache bypasses anyway while its storage is down, so nothing stale is
  served). A store of another kind (``ToggleStore`` protocol) must raise
  ``StorageUnavailable`` on failure too.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .storage import NullStorage, Storage, StorageUnavailable

log = logging.getLogger("flask_response_cache")


@dataclass(frozen=True, slots=True)
class RouteToggle:
    enabled: bool = True
    ttl: int | None = None

    def to_bytes(self) -> bytes:
        return json.dumps({"enabled": self.enabled, "ttl": self.ttl}).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> RouteToggle | None:
        try:
            data = json.loads(raw)
            ttl = data.get("ttl")
            enabled = data.get("enabled", True)
            if not isinstance(enabled, bool) or (ttl is not None and not isinstance(ttl, int)):
                return None
            return cls(enabled, ttl if ttl is None or ttl > 0 else None)
        except (ValueError, AttributeError):
            return None


class ToggleStore(Protocol):
    # Whether every process of the deployment reads this store (False: this one only).
    shared: bool

    def version(self) -> int: ...
    def load(self) -> dict[str, RouteToggle]: ...
    def save(self, endpoint: str, toggle: RouteToggle) -> None: ...


class StorageToggleStore:
    """Toggles in the cache storage (shared by every process when it is Redis)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # NullStorage keeps nothing, so toggles saved there reach nobody.
        self.shared = storage.shared and not isinstance(storage, NullStorage)

    def version(self) -> int:
        return self.storage.get_int(self.storage.layout.toggles_version)

    def load(self) -> dict[str, RouteToggle]:
        toggles = {}
        for endpoint, raw in self.storage.hash_get_all(self.storage.layout.toggles).items():
            toggle = RouteToggle.from_bytes(raw)
            if toggle is not None:
                toggles[endpoint] = toggle
        return toggles

    def save(self, endpoint: str, toggle: RouteToggle) -> None:
        self.storage.hash_set(self.storage.layout.toggles, endpoint, toggle.to_bytes())
        self.storage.incr(self.storage.layout.toggles_version)


class ToggleView:
    """A process's view of the toggles, refreshed at most every ``refresh`` seconds."""

    def __init__(self, store: ToggleStore, refresh: float, monotonic: Callable[[], float]) -> None:
        self.store = store
        self.refresh = refresh
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._toggles: dict[str, RouteToggle] = {}
        self._version = -1
        self._next_check = float("-inf")

    def current(self) -> Mapping[str, RouteToggle]:
        if self._monotonic() >= self._next_check:
            self._refresh(force=False)
        return self._toggles

    def get(self, endpoint: str) -> RouteToggle | None:
        return self.current().get(endpoint)

    def reload(self) -> Mapping[str, RouteToggle]:
        """Read the store now (operators' tools); raises ``StorageUnavailable``."""
        self._refresh(force=True, swallow=False)
        return self._toggles

    def _refresh(self, force: bool, swallow: bool = True) -> None:
        if not self._lock.acquire(blocking=force):
            return  # another thread is refreshing; the current view is good enough
        try:
            if not force and self._monotonic() < self._next_check:
                return
            self._next_check = self._monotonic() + self.refresh
            version = self.store.version()
            if force or version != self._version:
                toggles = self.store.load()
                if toggles != self._toggles:
                    log.info("cache toggles now %s", toggles)
                self._toggles, self._version = toggles, version
        except StorageUnavailable:
            if not swallow:
                raise
        finally:
            self._lock.release()
