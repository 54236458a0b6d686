"""Request ids and the JSON access log.

Contract:
- ``request_id_from(value)`` keeps an incoming ``X-Request-ID`` only when it is a sane token (1 to
  64 characters of ``[A-Za-z0-9._-]``), so a client cannot inject log lines, control characters
  or megabytes into our logs; anything else gets a fresh ``uuid4().hex``.
- ``current_request_id()`` is the id of the request being served (for other log lines), or None
  outside a request.
- ``log_access(observation)`` writes exactly one JSON object per request, on one line, to the
  ``access`` logger: ``ts`` (UTC, ISO 8601), ``request_id``, ``method``, ``route`` (the matched
  URL rule such as ``/api/v1/posts/<int:post_id>``, never the raw path: no ids, no query strings,
  bounded cardinality), ``endpoint``, ``status``, ``duration_ms`` and ``cache`` (the response's
  ``X-Cache`` value, or null for a route the cache does not handle).
- ``configure_access_logger(mode)`` sends the ``access`` logger to stderr, one handler per
  process (it does not propagate, so gunicorn's and the root logger's handlers never print a
  second copy). ``ACCESS_LOG`` picks the mode: ``buffered`` (the default) keeps lines in memory
  and writes them in one ``write``: at ``FLUSH_BYTES`` waiting, when the oldest is
  ``FLUSH_SECONDS`` old (checked on every line, and twice a second by a daemon thread, so an
  idle worker's last lines wait at most 1.5 s), and at exit (``flush_access_log``:
  gunicorn's ``worker_exit``, and ``atexit``); a ``SIGKILL`` loses the last 1.5 s at most.
  ``line`` writes every line at once; ``off`` logs nothing (``log_access`` costs one level check).
- ``log_access`` hands its record to the logger's handlers directly (``Logger.handle``): the
  caller lookup ``Logger.info`` does per line (a stack walk) says nothing for an access line.
"""

from __future__ import annotations

import atexit
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import orjson
from flask import has_request_context, request

ACCESS_LOGGER = "access"
REQUEST_ID_HEADER = "X-Request-ID"
# The WSGI environ key under which the request's id travels to Flask code.
ENVIRON_KEY = "observability.request_id"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
FLUSH_BYTES = 64 * 1024
FLUSH_SECONDS = 1.0

access_log = logging.getLogger(ACCESS_LOGGER)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one finished request looked like, as the access log and the metrics see it."""

    request_id: str
    method: str
    endpoint: str | None
    route: str | None
    status: int
    duration: float  # seconds
    cache: str | None  # the X-Cache value, upper case, or None


def request_id_from(value: str | None) -> str:
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    if not has_request_context():
        return None
    value = request.environ.get(ENVIRON_KEY)
    return value if isinstance(value, str) else None


def access_record(observation: Observation) -> dict[str, object]:
    return {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": observation.request_id,
        "method": observation.method,
        "route": observation.route,
        "endpoint": observation.endpoint,
        "status": observation.status,
        "duration_ms": round(observation.duration * 1000, 3),
        "cache": observation.cache,
    }


def log_access(observation: Observation) -> None:
    if access_log.isEnabledFor(logging.INFO):
        line = orjson.dumps(access_record(observation)).decode()
        access_log.handle(access_log.makeRecord(ACCESS_LOGGER, logging.INFO, "", 0, line, (), None))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of the call (pytest swaps it per test)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class BufferedStderrHandler(logging.Handler):
    """Lines gathered in memory, written to stderr in one write (see the module docstring)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = FLUSH_BYTES,
        max_age: float = FLUSH_SECONDS,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._lines: list[str] = []
        self._size = 0
        self._oldest = 0.0

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        if not self._lines:
            self._oldest = self.clock()
        line = record.getMessage()
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= self.max_bytes or self.clock() - self._oldest >= self.max_age:
            self._write()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def flush_if_due(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._lines and self.clock() - self._oldest >= self.max_age:
                self._write()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines, self._size = [], 0
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed (shutdown): the lines cannot go anywhere
            pass


def _flush_periodically(handler: BufferedStderrHandler) -> None:
    while True:
        time.sleep(handler.max_age / 2)  # the flusher's cadence on real time, not a test clock
        handler.flush_if_due()


def _ours(handler: logging.Handler) -> bool:
    return isinstance(handler, _StderrHandler | BufferedStderrHandler)


def configure_access_logger(mode: str = "buffered") -> None:
    """Idempotent per mode: many apps in one process (tests) share one handler."""
    access_log.propagate = False
    mine = [handler for handler in access_log.handlers if _ours(handler)]
    wanted = {"buffered": BufferedStderrHandler, "line": _StderrHandler}.get(mode)
    if wanted is None:  # "off"
        for handler in mine:
            access_log.removeHandler(handler)
        access_log.setLevel(logging.WARNING)
        return
    access_log.setLevel(logging.INFO)
    if any(type(handler) is wanted for handler in mine):
        return
    for handler in mine:
        handler.flush()
        access_log.removeHandler(handler)
    new: logging.Handler = wanted()
    new.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(new)
    if isinstance(new, BufferedStderrHandler):
        threading.Thread(
            target=_flush_periodically, args=(new,), name="access-log-flush", daemon=True
        ).start()
        atexit.register(new.flush)


def flush_access_log() -> None:
    """Write out whatever the access log still holds (a worker about to exit)."""
    for handler in access_log.handlers:
        handler.flush()
