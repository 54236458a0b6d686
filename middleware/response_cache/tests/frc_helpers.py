# mypy: allow-untyped-defs, allow-incomplete-defs
"""Helpers the package's tests share (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_response_cache import CacheCore, fast_hit_safe
from flask_response_cache.state import state_for
from flask_response_cache.testing import FakeClock


def fake_time_core(storage: Any, clock: FakeClock, **options: Any) -> CacheCore:
    """A core whose every timing decision follows ``clock``; no TTL jitter."""
    defaults: dict[str, Any] = {
        "trust_lease": 0.0 if not storage.shared else 0.5,
        "clock": clock,
        "monotonic": clock,
        "sleep": clock.sleep,
        "rng": lambda: 0.0,  # no TTL jitter: ages and max-age are exact
    }
    return CacheCore(storage, **{**defaults, **options})


def counters(app: Flask, endpoint: str) -> dict[str, int]:
    """The flushed counters of one endpoint."""
    state = state_for(app)
    state.counters.flush()
    return state.counters.read().get(endpoint, {})


def count_flask_entries(app: Flask) -> None:
    """Count the requests Flask dispatches (``app.entered``), in a hook declared skip-safe:
    a hit that leaves the count unchanged was answered below Flask (see ``anonymous``)."""
    app.entered = 0  # type: ignore[attr-defined]

    @fast_hit_safe("a test probe: counts the requests that reached Flask")
    def count_entries() -> None:
        app.entered += 1  # type: ignore[attr-defined]

    app.before_request(count_entries)


def anonymous(app: Flask, path: str, method: str = "GET") -> Any:
    """A cookie-less request; ``response.reached_flask`` says whether Flask dispatched it."""
    before = app.entered  # type: ignore[attr-defined]
    response = app.test_client(use_cookies=False).open(path, method=method)
    response.reached_flask = app.entered != before  # type: ignore[attr-defined]
    return response


def warnings_naming(caplog: Any, text: str) -> list[str]:
    """The captured log messages that mention ``text``."""
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]
