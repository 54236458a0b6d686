"""The cache core both faces share: trust, single-flight, stale serving, tags.

Contract:

1. **Trust.** Nothing read from the store is used unless the process holds a
   *trust lease* (``trust.py``): the journal was read, every pending
   invalidation applied and the store's epoch verified within the last
   ``trust_lease`` seconds, over the connection still in use. Without a lease,
   or with the store unavailable, every lookup answers ``bypass`` and callers
   compute from the source of truth.
2. **Invalidation never raises and is never lost.** ``invalidate(tags)`` records
   the tags in the journal, then applies them (``invalidate_recorded``, also the
   second half of a write whose journal entry joined its own transaction). If
   the store is unavailable the entry stays pending, the lease ends, and the
   next renewal replays it before the store is believed again. With a durable
   journal and a shared store the call also waits out one lease period, so every
   process has re-read the journal (and stopped trusting the store until the
   entry is applied) before the write is acknowledged: no read that starts after
   an acknowledged write can see data from before it, whatever Redis did. The
   wait is skipped only when the store is known down (its circuit is open) and
   refuses connections right now (``storage.refuses_connections()``: no server
   is running, so no process can read the old entry without a new connection,
   and a new connection ends its lease). A hung store (it accepts but does not
   answer) still costs the write one lease.
3. **Single-flight.** Of concurrent misses on one name, across processes, one
   gets ``fill`` (it holds a lock with a timeout and computes); the others
   wait briefly for its result, or get the stale record at once when the
   route allows stale-while-revalidate. If the lock holder dies, the lock
   expires and a waiter takes over. Taking the lock reads the entry in the
   same step, and storing the result releases it in the same step (one round
   trip each on Redis).
4. **Stale-set race.** A filler carries the generation it read *before* it
   started computing; the store refuses its result if any of the result's
   tags was invalidated since (``storage.STALE``).
5. **TTL jitter.** Fresh lifetimes are shortened by up to ``jitter`` (10%) at
   random so entries written together do not expire together.
6. **Peeks** (``peek``, for a fast path that answers hits only): under the
   same trust rules as ``lookup``, a fresh record is a HIT; a stale one
   inside its stale-while-revalidate window is STALE only while another
   caller holds the fill lock (exactly when ``lookup`` would serve it);
   anything else is MISS, and the caller hands the request to the full
   ``lookup``. With ``claim``, a peek that finds no entry at all takes the
   fill lock in the same step (``RedisStorage.peek_claim``), and its MISS
   carries the FILL that ``lookup(peeked=...)`` returns; the caller releases
   it (``abandon``) if the request never gets there. A peek never waits and
   never retries, so commands it carried along (``along``: piggy-backed on
   the entry's read when the storage can, see ``RedisStorage.get_with``)
   ran exactly once.

All timing uses injected clocks (``clock`` for record ages, ``monotonic`` for
leases and waits) and an injected ``sleep``, so tests control time.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .journal import Journal, JournalUnavailable, MemoryJournal
from .record import Freshness, Record
from .storage import EPOCH, OK, Storage, StorageUnavailable
from .trust import TrustLease

HIT = "hit"
STALE = "stale"
FILL = "fill"
BYPASS = "bypass"
MISS = "miss"  # peek only: nothing it may serve, and no lock taken


@dataclass(slots=True)
class Fill:
    """The right (and duty) to compute a value and store it."""

    name: str
    epoch: str
    token: str
    snapshot: int
    locked: bool


@dataclass(slots=True)
class Lookup:
    outcome: str  # HIT | STALE | FILL | BYPASS (| MISS from peek)
    record: Record | None = None  # the served record, or the stale one kept for errors
    fill: Fill | None = None
    detail: str = ""  # why, for Cache-Status: "unavailable", "coalesced", ...
    epoch: str = ""  # peek: the epoch it read under (a MISS's hint for lookup)


class CacheCore:
    def __init__(
        self,
        storage: Storage,
        *,
        journal: Journal | None = None,
        trust_lease: float = 0.5,
        lock_timeout: float = 10.0,
        wait_timeout: float = 2.0,
        wait_step: float = 0.01,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.storage = storage
        self.journal: Journal = journal if journal is not None else MemoryJournal()
        self.trust_lease = trust_lease
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        self.wait_step = wait_step
        self.jitter = jitter
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.rng = rng
        self.trust = TrustLease(storage, self.journal, trust_lease, monotonic)

    # -- trust (trust.py) ----------------------------------------------------

    def trusted_epoch(self) -> str | None:
        """The epoch to use, or None when the store must not be trusted now."""
        return self.trust.epoch()

    def distrust(self) -> None:
        """Drop the lease: the next operation re-verifies."""
        self.trust.end()

    # -- reads ---------------------------------------------------------------

    def _read(self, epoch: str, name: str) -> Record | None:
        raw = self.storage.get(self.storage.layout.entry(epoch, name))
        if self.storage.connection_generation() != self.trust.seen_connections:
            # That read went over a new connection: the server may be another
            # one (restart, failover). Verify before believing it.
            raise _Reverify
        return Record.decode(raw) if raw is not None else None

    def lookup(
        self,
        name: str,
        allow_stale: bool = True,
        *,
        peeked: Lookup | None = None,
    ) -> Lookup:
        """Find ``name``; the caller must ``complete`` or ``abandon`` a FILL.

        ``peeked``: this request's own ``peek`` of ``name`` that found nothing to
        serve (MISS): under the same epoch its read stands, and the lookup goes
        straight to the lock; or, when the peek took the lock already, to the FILL.
        """
        for _attempt in range(2):
            epoch = self.trusted_epoch()
            if epoch is None:
                return Lookup(BYPASS, detail="unavailable")
            try:
                if peeked is not None and peeked.outcome == MISS and peeked.epoch == epoch:
                    if peeked.fill is not None and peeked.fill.locked and peeked.fill.name == name:
                        return Lookup(FILL, peeked.record, peeked.fill, detail="miss")
                    return self._after_miss(epoch, name, allow_stale, peeked.record)
                return self._lookup(epoch, name, allow_stale)
            except _Reverify:
                self.distrust()
            except StorageUnavailable:
                return Lookup(BYPASS, detail="unavailable")
        return Lookup(BYPASS, detail="unverified")

    def peek(
        self,
        name: str,
        allow_stale: bool = True,
        along: Sequence[tuple[Any, ...]] = (),
        *,
        claim: bool = False,
    ) -> tuple[Lookup, list[Any]]:
        """Read-only lookup: ``(HIT | STALE | MISS | BYPASS lookup, results of along)``.

        ``along``: raw commands to run in the same round trip as the entry's read
        when the storage can (``get_with``); their replies come back in order, an
        error as its exception object. The list is empty when they did not run
        (no support, no trust, the store failed before answering).

        ``claim``: when nothing is stored, take the fill lock in the same round trip
        (storages with ``peek_claim``): the MISS then carries a locked ``fill``, which
        the caller must hand to ``lookup`` (``peeked``) or ``abandon``.
        """
        epoch = self.trusted_epoch()
        if epoch is None:
            return Lookup(BYPASS, detail="unavailable"), []
        extras: list[Any] = []
        try:
            raw, fill, extras = self._peek_read(epoch, name, along, claim)
            if self.storage.connection_generation() != self.trust.seen_connections:
                if fill is not None:
                    self.abandon(fill)
                self.distrust()  # a new connection: the full lookup re-verifies first
                return Lookup(BYPASS, detail="unverified"), extras
            if fill is not None:  # nothing stored: this caller fills, under its lock
                return Lookup(MISS, None, fill, detail="miss", epoch=epoch), extras
            record = Record.decode(raw) if raw is not None else None
            return self._peek_verdict(epoch, name, record, allow_stale), extras
        except StorageUnavailable as exc:
            return Lookup(BYPASS, detail="unavailable"), getattr(exc, "extras", None) or extras

    def _peek_read(
        self, epoch: str, name: str, along: Sequence[tuple[Any, ...]], claim: bool
    ) -> tuple[bytes | None, Fill | None, list[Any]]:
        """The entry's bytes (one round trip, ``along`` riding on it), and the fill lock
        when ``claim`` and nothing is stored."""
        peek_claim = getattr(self.storage, "peek_claim", None) if claim else None
        if peek_claim is not None:
            token = secrets.token_hex(8)
            raw, locked, snapshot, extras = peek_claim(
                epoch, name, token, int(self.lock_timeout * 1000), along
            )
            fill = Fill(name, epoch, token, snapshot, True) if locked else None
            return raw, fill, extras
        key = self.storage.layout.entry(epoch, name)
        get_with = getattr(self.storage, "get_with", None) if along else None
        if get_with is not None:
            raw, extras = get_with(key, along)
            return raw, None, extras
        return self.storage.get(key), None, []

    def _peek_verdict(
        self, epoch: str, name: str, record: Record | None, allow_stale: bool
    ) -> Lookup:
        """HIT when fresh; STALE only while another caller refreshes it; else MISS."""
        now = self.clock()
        if record is not None and record.is_fresh(now):
            return Lookup(HIT, record)
        if (
            allow_stale
            and record is not None
            and record.may_serve_while_revalidating(now)
            and self.storage.get(self.storage.layout.lock(epoch, name)) is not None
        ):
            return Lookup(STALE, record, detail="revalidating")
        return Lookup(MISS, record, detail="stale" if record else "miss", epoch=epoch)

    def _lookup(self, epoch: str, name: str, allow_stale: bool) -> Lookup:
        record = self._read(epoch, name)
        if record is not None and record.is_fresh(self.clock()):
            return Lookup(HIT, record)
        return self._after_miss(epoch, name, allow_stale, record)

    def _after_miss(
        self, epoch: str, name: str, allow_stale: bool, record: Record | None
    ) -> Lookup:
        """Nothing fresh was read (``record``: what was, if anything): fill or wait."""
        fill = self._try_fill(epoch, name)
        if isinstance(fill, Record):
            return Lookup(HIT, fill, detail="coalesced")
        if fill is not None:
            return Lookup(FILL, record, fill, detail="stale" if record else "miss")
        if allow_stale and record is not None and record.may_serve_while_revalidating(self.clock()):
            return Lookup(STALE, record, detail="revalidating")
        return self._wait_for_filler(epoch, name, record)

    def _claim(self, epoch: str, name: str, token: str) -> tuple[bool, int, Record | None]:
        """``storage.claim`` with ``_read``'s connection check (the lock, if taken, is
        released again when the read cannot be believed)."""
        locked, snapshot, raw = self.storage.claim(
            epoch, name, token, int(self.lock_timeout * 1000)
        )
        if self.storage.connection_generation() != self.trust.seen_connections:
            if locked:
                self.abandon(Fill(name, epoch, token, snapshot, True))
            raise _Reverify
        return locked, snapshot, Record.decode(raw) if raw is not None else None

    def _try_fill(self, epoch: str, name: str) -> Fill | Record | None:
        """The lock (a Fill); or the fresh record a filler stored just before we took
        the lock (it released it after storing: the lock and the read are one step,
        or we would compute again)."""
        token = secrets.token_hex(8)
        locked, snapshot, record = self._claim(epoch, name, token)
        if not locked:
            return None
        fill = Fill(name, epoch, token, snapshot, True)
        if record is not None and record.is_fresh(self.clock()):
            self.abandon(fill)
            return record
        return fill

    def _wait_for_filler(self, epoch: str, name: str, stale: Record | None) -> Lookup:
        deadline = self.monotonic() + self.wait_timeout
        while self.monotonic() < deadline:
            self.sleep(self.wait_step)
            # One step: the filler's result, or its lock if it died meanwhile.
            token = secrets.token_hex(8)
            locked, snapshot, record = self._claim(epoch, name, token)
            fill = Fill(name, epoch, token, snapshot, locked)
            if record is not None and record.is_fresh(self.clock()):
                self.abandon(fill)
                return Lookup(HIT, record, detail="coalesced")
            if locked:
                return Lookup(FILL, record or stale, fill, detail="takeover")
        # Waited long enough: compute without the lock; the snapshot still
        # guards the store against the stale-set race.
        _, snapshot = self.storage.acquire(epoch, name, "", 1)
        return Lookup(FILL, stale, Fill(name, epoch, "", snapshot, False), detail="wait-timeout")

    # -- writes --------------------------------------------------------------

    def complete(
        self, fill: Fill, payload: bytes, freshness: Freshness, tags: Sequence[str], flags: int = 0
    ) -> str:
        """Store the computed payload (if the store still agrees) and release."""
        ttl = freshness.ttl * (1 - self.jitter * self.rng())
        jittered = Freshness(ttl, freshness.stale_while_revalidate, freshness.stale_if_error)
        record = Record.new(payload, self.clock(), jittered, flags)
        try:
            result = self.storage.store(
                fill.epoch,
                fill.name,
                record.encode(),
                max(1, int(jittered.retention * 1000)),
                tags,
                fill.snapshot,
                release=fill.token if fill.locked else "",
            )
            fill.locked = False  # released by the store, in the same step
        except StorageUnavailable:
            result = "unavailable"
        if result == EPOCH:
            self.distrust()
        self.abandon(fill)  # after a failed store: try to release (else it expires)
        return result

    def abandon(self, fill: Fill) -> None:
        if not fill.locked:
            return
        fill.locked = False
        try:
            self.storage.release(fill.epoch, fill.name, fill.token)
        except StorageUnavailable:
            pass  # the lock expires by itself

    def invalidate(self, tags: Sequence[str]) -> bool:
        """Journal then apply ``tags``; whether the store took them now (else pending).

        Never raises ``StorageUnavailable``; ``JournalUnavailable`` only when a
        durable journal cannot record (its database is down).
        """
        entry_id = self.journal.record_now(list(tags))
        return self.invalidate_recorded(entry_id, tags)

    def invalidate_recorded(self, entry_id: int, tags: Sequence[str]) -> bool:
        """Apply journal entry ``entry_id``; on failure keep it pending (see rule 2).

        Returns whether the store took it. Either way, when this returns, no
        process that shares the journal trusts a store that lacks it.
        """
        if self.apply(tags, entry_id):
            try:
                # With per-process stores "applied" means applied by its writer: the
                # others replay it from the journal's recent rows all the same (trust.py).
                self.journal.mark_applied([entry_id])
            except JournalUnavailable:
                pass  # replayed again later: invalidation is idempotent
            return True
        self.distrust()
        if self.storage.shared and self.journal.durable:
            self._wait_out_leases()
        return False

    def _wait_out_leases(self) -> None:
        """Return once no process may still trust a store that lacks the entry (rule 2)."""
        started = self.monotonic()
        known_down = getattr(self.storage, "known_down", None)
        refuses = getattr(self.storage, "refuses_connections", None)
        if known_down is not None and refuses is not None and known_down() and refuses():
            return  # nobody reads the old entry: reaching it takes a new connection
        # The check's own time (a hung server's timeout) counts toward the lease.
        self.sleep(max(0.0, self.trust_lease - (self.monotonic() - started)))

    def apply(self, tags: Sequence[str], seq: int = 0) -> bool:
        """Apply one invalidation to the store now, unjournaled (``invalidate`` journals
        first); False if the store could not take it."""
        for _attempt in range(2):
            epoch = self.trusted_epoch()
            if epoch is None:
                return False
            try:
                result = self.storage.invalidate(epoch, list(tags), seq)
            except StorageUnavailable:
                return False
            if result == OK:
                return True
            self.distrust()  # the epoch moved under us; verify and retry once
        return False


class _Reverify(Exception):
    """Internal: a read crossed a new connection and must be re-verified."""
