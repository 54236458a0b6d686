"""Fixtures of the attack suite: a seeded deployment per module, and the recorder.

``site`` is one gunicorn instance (two workers) on its own Redis and a copy of a
SQLite file seeded once per session (5 users, 40 posts; user1 is the admin), with
limits far above the traffic; modules that test limits start their own with
``start_site(...)``. ``Site.redis_keys(prefix)`` lists the keys under a prefix so
tests can show what an attack did, or did not, leave in Redis.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import BASE_ENV, Http
from tests.faults.recorder import CaseRecorder
from tests.support.gunicorn_server import GunicornServer, seed_sqlite
from tests.support.redis_server import RedisServer


@dataclass
class Site:
    redis: RedisServer
    server: GunicornServer
    http: Http

    def redis_keys(self, prefix: str) -> list[bytes]:
        return sorted(self.redis.client().scan_iter(match=f"{prefix}*", count=1000))

    def response_entries(self) -> list[bytes]:
        """The response cache's entries (the service cache's are ``{rc}:e:<epoch>:posts:...``;
        a request the response cache bypasses may fill those, as it should)."""
        return sorted(self.redis.client().scan_iter(match="{rc}:e:*:http:*", count=1000))

    def stop(self) -> None:
        self.server.stop()
        self.redis.stop()


@pytest.fixture(scope="session")
def attack_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("attack-seed") / "template.db"
    seed_sqlite(path, users=5, posts=40, tags=5)
    return path


def start_site(workdir: Path, seed: Path, **env: str) -> Site:
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "app.db"
    shutil.copy(seed, database)
    redis = RedisServer(workdir / "redis").start()
    settings = {**BASE_ENV, "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": redis.url}
    server = GunicornServer({**settings, **env}, workdir / "gunicorn", workers=2)
    try:
        server.start()
    except RuntimeError:
        redis.stop()
        raise
    return Site(redis, server, Http(server.port))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, attack_seed: Path) -> Iterator[Site]:
    started = start_site(tmp_path_factory.mktemp("site"), attack_seed)
    yield started
    started.stop()


@pytest.fixture
def reliability_case(record_property: Any) -> CaseRecorder:
    return CaseRecorder(record_property, group="attack")
