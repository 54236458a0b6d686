# mypy: allow-untyped-defs, allow-incomplete-defs
"""Fixtures of the package's own suite: no host app, real redis-server processes.

- ``clock``: a ``FakeClock`` every core here runs on (no test waits on the wall clock).
- ``redis_server``: a private redis-server per test on a free loopback port (tests
  kill, pause and restart it); never the machine's shared Redis.
- ``steady_heap``: in-process latency tests (``pytestmark``) time no collection of
  the suite's heap.
- ``memory_core``: a core on the in-process storage, driven by ``clock``.
- ``standalone(**config)``: a bare Flask app with only the extension; add routes, then
  request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_response_cache import CacheCore, MemoryStorage, ResponseCache, testing
from flask_response_cache.testing import FakeClock, RedisServer
from frc_helpers import fake_time_core


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


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


@pytest.fixture
def steady_heap() -> Iterator[None]:
    """For tests that time in-process requests: see ``flask_response_cache.testing``."""
    with testing.steady_heap():
        yield
