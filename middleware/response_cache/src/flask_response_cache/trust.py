"""When a process may believe what the store holds: the trust lease.

Contract (rule 1 of ``core.py``):

- Nothing read from the store is used unless the process holds a lease: within the
  last ``lease`` seconds it read the journal, applied every pending invalidation, and
  verified the store's epoch against the journal (a store that restarted empty, or
  from an older snapshot, moves to a new epoch, which makes all of its old entries
  unreachable at once).
- A new connection to the store ends the lease at once: the server behind it may be
  another one (a restart, a failover).
- While the store or the journal is down, a renewal is retried at most once per
  ``RENEWAL_BACKOFF`` seconds, so an outage costs no journal query per request; while
  the store's circuit is open a renewal queries nothing at all.
- A per-process store (memory) has no shared ``seq``: each process replays the
  journal's recent entries into its own store instead (on its first renewal only the
  youngest, those that may still be committing: its store is empty). A process that
  has not renewed for the journal's ``retention_seconds`` may have missed entries the
  journal pruned since, so it drops its whole store (a new epoch).

All timing comes from the injected ``monotonic`` clock.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

from .journal import FORCE_NEW_EPOCH, Journal, JournalUnavailable
from .storage import OK, Storage, StorageUnavailable

log = logging.getLogger("flask_response_cache")

# Field of the stats hash counting journal entries applied late (after an outage).
REPLAYED_FIELD = "journal:replayed"
# After a failed renewal, how long the cache stays untrusted before trying again.
RENEWAL_BACKOFF = 0.5
# A per-process store forgets replayed journal ids older than this (seconds).
LOCAL_REPLAY_HORIZON = 600


class TrustLease:
    def __init__(
        self,
        storage: Storage,
        journal: Journal,
        lease: float,
        monotonic: Callable[[], float],
    ) -> None:
        self.storage = storage
        self.journal = journal
        self.lease = lease
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._epoch: str | None = None
        self._lease_until = float("-inf")
        self._retry_renewal_at = float("-inf")
        self._seen_connections = -1
        self._replayed: dict[int, float] = {}  # per-process stores: journal ids applied
        self._replay_cursor = -1  # -1: never renewed
        on_recovery = getattr(storage, "on_recovery", None)
        if on_recovery is not None:
            on_recovery(self._recovered)
        self._renewed_at = float("-inf")
        self._flushes = 0  # local stores dropped for falling behind the journal

    @property
    def seen_connections(self) -> int:
        """The store's connection generation when the lease was granted."""
        return self._seen_connections

    def epoch(self) -> str | None:
        """The epoch to use, or None when the store must not be trusted now."""
        connections = self.storage.connection_generation()
        if (
            self._epoch is not None
            and self.monotonic() < self._lease_until
            and connections == self._seen_connections
        ):
            return self._epoch
        if self.monotonic() < self._retry_renewal_at:
            return None  # a renewal just failed: no journal queries per request
        return self._renew()

    def end(self) -> None:
        """Drop the lease: the next operation re-verifies."""
        self._lease_until = float("-inf")

    def _recovered(self) -> None:
        """The store answers again: renew at the next operation, not after the backoff."""
        self._retry_renewal_at = float("-inf")

    def _renew(self) -> str | None:
        with self._lock:
            started = self.monotonic()
            if started < self._retry_renewal_at:
                return None
            try:
                epoch = self._renew_shared() if self.storage.shared else self._renew_local()
            except (StorageUnavailable, JournalUnavailable) as exc:
                if self._epoch is not None:
                    log.warning("cache untrusted until the store and journal answer: %s", exc)
                self._epoch = None
                self._retry_renewal_at = self.monotonic() + RENEWAL_BACKOFF
                return None
            if epoch != self._epoch:
                log.info("cache epoch is %s", epoch)
            self._epoch = epoch
            self._lease_until = started + self.lease
            self._seen_connections = self.storage.connection_generation()
            return epoch

    def _renew_shared(self) -> str:
        known_down = getattr(self.storage, "known_down", None)
        if known_down is not None and known_down():
            # The verify below would refuse at once: spare the journal (SQL) its query.
            raise StorageUnavailable("circuit open")
        pending = self.journal.pending()
        epoch = self.storage.verify(self.journal.max_applied(), secrets.token_hex(4))
        applied = [
            entry_id
            for entry_id, tags in pending
            if self.storage.invalidate(epoch, tags, entry_id) == OK
        ]
        if applied:
            self.journal.mark_applied(applied)
            log.info("replayed %d pending invalidation(s)", len(applied))
            # Shared counter for the stats (outside the per-endpoint fields).
            self.storage.hash_incr(self.storage.layout.stats, {REPLAYED_FIELD: len(applied)})
        return epoch

    def _renew_local(self) -> str:
        now = self.monotonic()
        retention = getattr(self.journal, "retention_seconds", None)
        behind = retention is not None and now - self._renewed_at >= retention
        if behind and self._replay_cursor >= 0:
            # A "journal id" above any applied one makes the store move to a new epoch;
            # one higher each time, so a second flush moves it again.
            self._flushes += 1
            log.warning("cache idle longer than the journal keeps rows: starting afresh")
        floor = FORCE_NEW_EPOCH + self._flushes if self._flushes else 0
        epoch = self.storage.verify(floor, secrets.token_hex(4))
        if self._replay_cursor < 0:  # an empty store: skip what its writers applied
            self._replay_cursor = self.journal.max_applied()
        entries = self.journal.recent(self._replay_cursor)
        self._renewed_at = now
        for entry_id, tags in entries:
            if entry_id not in self._replayed:
                self.storage.invalidate(epoch, tags, 0)
                self._replayed[entry_id] = now
                self._replay_cursor = max(self._replay_cursor, entry_id)
        # Forget ids the journal no longer reports (older than its horizon).
        horizon = now - LOCAL_REPLAY_HORIZON
        for entry_id in [i for i, seen in self._replayed.items() if seen < horizon]:
            del self._replayed[entry_id]
        return epoch
