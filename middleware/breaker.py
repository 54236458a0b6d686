"""A per-process circuit breaker for one remote dependency (Redis).

Contract:
- ``closed``: calls go through; ``failure_threshold`` consecutive failures
  open the circuit.
- ``open``: ``allow()`` answers False at once (no network, near-zero cost)
  until ``reset_timeout`` seconds have passed on the injected clock.
- ``half_open``: exactly one caller is let through as a probe; its success
  closes the circuit, its failure opens it again for another period.
- One log line per state change, never one per request.
- ``on_close`` listeners run when the circuit closes after being open: the
  caches use it to replay pending invalidations and re-check the Redis epoch
  before they trust Redis again.

Thread-safe: gunicorn gthread workers share one breaker per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("redis.breaker")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str = "redis",
        failure_threshold: int = 2,
        reset_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._on_close: list[Callable[[], None]] = []

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout:
                return HALF_OPEN
            return self._state

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def on_close(self, listener: Callable[[], None]) -> None:
        self._on_close.append(listener)

    def allow(self) -> bool:
        """May a call go to the dependency now?"""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if self._clock() - self._opened_at < self.reset_timeout:
                    return False
                self._transition(HALF_OPEN)
            # half-open: one probe at a time
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probe_in_flight = False
            was_closed = self._state == CLOSED
            if not was_closed:
                self._transition(CLOSED)
        if not was_closed:
            for listener in self._on_close:
                listener()

    def record_failure(self) -> None:
        with self._lock:
            self._probe_in_flight = False
            self._failures += 1
            if self._state == HALF_OPEN or (
                self._state == CLOSED and self._failures >= self.failure_threshold
            ):
                self._opened_at = self._clock()
                self._transition(OPEN)
            elif self._state == OPEN:
                self._opened_at = self._clock()

    def trip(self) -> None:
        """Open at once (a hung dependency: one timeout is enough evidence)."""
        with self._lock:
            self._probe_in_flight = False
            self._failures = max(self._failures, self.failure_threshold)
            self._opened_at = self._clock()
            if self._state != OPEN:
                self._transition(OPEN)

    def _transition(self, new_state: str) -> None:
        # Called with the lock held.
        if new_state != self._state:
            log.warning("circuit %s: %s -> %s", self.name, self._state, new_state)
            self._state = new_state
