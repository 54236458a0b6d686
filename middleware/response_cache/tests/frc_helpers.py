# mypy: allow-untyped-defs, allow-incomplete-defs
"""Helpers the package's tests share (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_response_cache import CacheCore
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
