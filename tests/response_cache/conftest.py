"""Fixtures for the response cache: a fake clock, cores, and small standalone apps.

Standalone apps are plain Flask apps with only the extension (proving it needs
nothing from this project); the project's own app comes from ``make_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from middleware.response_cache import CacheCore, MemoryStorage, ResponseCache, state_for
from tests.support.fake_clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


def fake_time_core(storage: Any, clock: FakeClock, **options: Any) -> CacheCore:
    defaults: dict[str, Any] = {
        "trust_lease": 0.0 if not storage.shared else 0.5,
        "clock": clock,
        "monotonic": clock,
        "sleep": clock.sleep,
        "rng": lambda: 0.0,  # no TTL jitter: ages and max-age are exact
    }
    return CacheCore(storage, **{**defaults, **options})


@pytest.fixture
def memory_core(clock: FakeClock) -> CacheCore:
    return fake_time_core(MemoryStorage(clock=clock), clock)


@pytest.fixture
def standalone(memory_core: CacheCore) -> Callable[..., Flask]:
    """``standalone(**config)``: a bare Flask app with the cache; add routes, then request."""

    def build(core: CacheCore | None = None, **config: Any) -> Flask:
        app = Flask("standalone")
        defaults = {"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "SECRET_KEY": "k"}
        app.config.update({**defaults, **config})
        ResponseCache(app, core=core or memory_core)
        return app

    return build


def counters(app: Flask, endpoint: str) -> dict[str, int]:
    state = state_for(app)
    state.counters.flush()
    return state.counters.read().get(endpoint, {})


@pytest.fixture(params=["embedded", "redis"])
def project_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Flask:
    """The project's own app, with the in-process cache and SQL sessions, or on Redis."""
    if request.param == "redis":
        return make_app(redis=request.getfixturevalue("redis_server"))
    return make_app()
