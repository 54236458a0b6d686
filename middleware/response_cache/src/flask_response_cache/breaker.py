"""A per-process circuit breaker for one remote dependency (Redis).

Contract:
- ``closed``: calls go through. ``failure_threshold`` consecutive failures
  (``record_failure``) open the circuit; ``trip()`` opens it at once (a
  timeout: one hung call is enough evidence, a second would cost another
  full timeout).
- ``open``: ``allow()`` answers False at once (no network, near-zero cost)
  until ``reset_timeout`` seconds have passed on the injected clock.
- ``half_open``: exactly one caller is let through as a probe. Its success
  closes the circuit, its failure opens it for another period. A probe that
  never reports (its thread died) is presumed lost after ``reset_timeout``,
  so the circuit can never stay stuck half-open.
- Outcomes reported while ``open`` come from calls admitted before the
  circuit opened; they change nothing (only the probe decides).
- ``release()`` frees the probe slot without a verdict (the call failed for a
  reason that says nothing about the dependency).
- One log line per state change, never one per request.
- ``on_close`` listeners run (outside the lock) when the circuit closes after
  being open: the caches use it to replay pending invalidations.
- **Background probing** (``probe`` given, the default for the clients this package
  builds): while open, no request is ever let through as a probe; instead a daemon
  thread of this process calls ``probe()`` (the package's: a 1 s SET, since a PING
  passes where writes fail) once per ``probe_interval`` (0.25 s), and its first
  success closes the circuit. A dead or hung dependency then
  costs requests nothing at all (the probe waits out its own timeout, off the request
  path), and recovery is seen within about one interval by every process, whatever
  the length of the outage. ``probe_now()`` is one such probe (what the thread runs;
  tests call it under a fake clock with ``background=False``).

Thread-safe: gunicorn gthread workers share one breaker per process. Time
comes only from ``clock`` so tests drive it without sleeping.
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
        failure_threshold: int = 3,
        reset_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        probe: Callable[[], object] | None = None,
        probe_interval: float = 0.25,
        background: bool = True,
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
        self._probe_started: float | None = None
        self._on_close: list[Callable[[], None]] = []
        self.probe = probe
        self.probe_interval = probe_interval
        self._background = background
        self._prober: threading.Thread | None = None
        self._wake = threading.Event()

    @property
    def state(self) -> str:
        """The state a caller would see now (reading it changes nothing)."""
        with self._lock:
            if self._state == OPEN and self.probe is None and self._cooled_down():
                return HALF_OPEN
            return self._state

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def retry_after(self) -> float:
        """Seconds until the next probe may run (0 when not open)."""
        with self._lock:
            if self._state != OPEN:
                return 0.0
            if self.probe is not None:
                return self.probe_interval
            return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))

    def on_close(self, listener: Callable[[], None]) -> None:
        self._on_close.append(listener)

    def allow(self) -> bool:
        """May a call go to the dependency now? True obliges the caller to report."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if self.probe is not None or not self._cooled_down():
                    return False  # with a background probe, requests never probe
                self._transition(HALF_OPEN)
            if self._probe_started is not None and not self._probe_lost():
                return False
            self._probe_started = self._clock()
            return True

    def record_success(self) -> None:
        with self._lock:
            if self._state == OPEN:
                return
            self._failures = 0
            closing = self._state == HALF_OPEN
            if closing:
                self._probe_started = None
                self._transition(CLOSED)
        if closing:
            for listener in self._on_close:
                listener()

    def record_failure(self) -> None:
        with self._lock:
            if self._state == OPEN:
                return
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                self._open()

    def trip(self) -> None:
        """Open at once (a hung dependency: one timeout is enough evidence)."""
        with self._lock:
            if self._state != OPEN:
                self._open()

    def release(self) -> None:
        """Free the probe slot without judging the dependency."""
        with self._lock:
            self._probe_started = None

    # Helpers below are called with the lock held.

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_timeout

    def _probe_lost(self) -> bool:
        assert self._probe_started is not None
        return self._clock() - self._probe_started >= self.reset_timeout

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._probe_started = None
        self._failures = 0
        self._transition(OPEN)
        if self.probe is not None and self._background:
            self._ensure_prober()

    def _ensure_prober(self) -> None:
        if self._prober is None or not self._prober.is_alive():
            self._prober = threading.Thread(
                target=self._probe_while_open, name=f"{self.name} probe", daemon=True
            )
            self._prober.start()

    # -- background probing (the prober thread) ---------------------------------------

    def _probe_while_open(self) -> None:
        while True:
            self._wake.wait(self.probe_interval)  # the prober's cadence, on real time
            with self._lock:
                if self._state != OPEN:
                    self._prober = None
                    return
            if self.probe_now():
                return

    def probe_now(self) -> bool:
        """One probe of an open circuit: closes it when the dependency answers. True when
        the circuit is closed afterwards."""
        with self._lock:
            if self._state != OPEN:
                return True
        assert self.probe is not None
        try:
            self.probe()
        except Exception as exc:  # any failure: still down (the probe is the caller's)
            log.debug("circuit %s: probe failed: %s", self.name, exc)
            return False
        with self._lock:
            if self._state != OPEN:
                return True
            self._failures = 0
            self._transition(CLOSED)
        for listener in self._on_close:
            listener()
        return True

    def _transition(self, new_state: str) -> None:
        if new_state != self._state:
            log.warning("circuit %s: %s -> %s", self.name, self._state, new_state)
            self._state = new_state
