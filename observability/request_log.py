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
- ``configure_access_logger()`` sends the ``access`` logger to stderr once per process (it does
  not propagate, so gunicorn's and the root logger's handlers never print a second copy).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
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
        access_log.info(orjson.dumps(access_record(observation)).decode())


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of the call (pytest swaps it per test)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_access_logger() -> None:
    """Idempotent: many apps in one process (tests) share one handler."""
    if any(isinstance(handler, _StderrHandler) for handler in access_log.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
