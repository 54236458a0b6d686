"""Fixtures of the fault suite: seeded databases that can be taken away, gunicorn deployments.

- ``sqlite_database``: a copy of a seeded SQLite file (5 users, 40 posts, seeded
  once per session). ``take_down()`` checkpoints the WAL into the file, then
  overwrites the file's header in place, so every connection, pooled ones
  included, gets "file is not a database" (as root, ``chmod 000`` changes
  nothing and an open connection survives a rename); ``bring_back()`` restores
  the bytes.
- ``postgres_database``: with ``TEST_DATABASE_URL``, a throwaway database of our
  own (``faults_<pid>_<hex>``, never ``test``), seeded alike. ``take_down()``
  refuses new connections (``ALLOW_CONNECTIONS false``) and terminates its
  backends; ``bring_back()`` allows them again; teardown drops it.
- ``deploy(database_url, redis_url, **env)``: one gunicorn instance with two
  workers and the probe access log (``harness.BASE_ENV``); stopped at teardown.
- ``reliability_case``: the per-case recorder (``recorder.py``).
- Every test here runs under ``steady_heap`` (autouse): the harness times each reply
  on this process's clock, and a full collection of a late-session test runner's heap
  (100-500 ms on this machine) inside a timed read would be charged to Redis.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.faults.harness import BASE_ENV
from tests.faults.recorder import CaseRecorder
from tests.support.gunicorn_server import ROOT, GunicornServer, seed_sqlite

SEED = {"users": 5, "posts": 40, "tags": 5}
_SQLITE_HEADER = 100  # bytes: "SQLite format 3\0" and the database header


def seed_database(url: str) -> None:
    """``flask init-db`` and ``flask seed`` against any database URL."""
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
    env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    counts = [f"--{name}={value}" for name, value in SEED.items()]
    subprocess.run([*flask, "seed", *counts], cwd=ROOT, env=env, check=True, capture_output=True)


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.kind = "sqlite"
        self._header: bytes | None = None

    def take_down(self) -> None:
        # In WAL mode recent pages (page 1, the header, included) live in the -wal file:
        # copy them back first, or readers would never look at the header we overwrite.
        conn = sqlite3.connect(self.path, timeout=5)
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            conn.close()
        assert busy == 0, "a reader kept the checkpoint from completing"
        with open(self.path, "r+b") as handle:
            self._header = handle.read(_SQLITE_HEADER)
            handle.seek(0)
            handle.write(b"\0" * _SQLITE_HEADER)

    def bring_back(self) -> None:
        if self._header is not None:
            with open(self.path, "r+b") as handle:
                handle.write(self._header)
            self._header = None


class PostgresDatabase:
    def __init__(self, admin: sa.Engine, name: str, url: str) -> None:
        self.admin = admin
        self.name = name
        self.url = url
        self.kind = "postgresql"

    def _run(self, *statements: str) -> None:
        with self.admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))

    def take_down(self) -> None:
        self._run(
            f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
        )

    def bring_back(self) -> None:
        self._run(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self) -> None:
        self.bring_back()
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture(autouse=True)
def _steady_client_heap(steady_heap: None) -> None:
    """The timed client is this process: see the module docstring."""


@pytest.fixture(scope="session")
def seed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "template.db"
    seed_sqlite(path, **SEED)
    return path


@pytest.fixture
def sqlite_database(tmp_path: Path, seed_template: Path) -> SqliteDatabase:
    path = tmp_path / "app.db"
    shutil.copy(seed_template, path)
    return SqliteDatabase(path)


def postgres_admin_url() -> str | None:
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        return None
    from config import database_url_from

    return database_url_from({"DATABASE_URL": raw})


@pytest.fixture
def postgres_database() -> Iterator[PostgresDatabase]:
    admin_url = postgres_admin_url()
    if admin_url is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database = PostgresDatabase(
        admin, name, sa.make_url(admin_url).set(database=name).render_as_string(False)
    )
    try:
        seed_database(database.url)
        yield database
    finally:
        database.drop()


def _databases() -> list[Any]:
    params: list[Any] = ["sqlite"]
    if os.environ.get("TEST_DATABASE_URL"):
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture(params=_databases())
def any_database(request: pytest.FixtureRequest) -> SqliteDatabase | PostgresDatabase:
    """SQLite always; PostgreSQL too when TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        database: SqliteDatabase = request.getfixturevalue("sqlite_database")
        return database
    postgres: PostgresDatabase = request.getfixturevalue("postgres_database")
    return postgres


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[Callable[..., GunicornServer]]:
    started: list[GunicornServer] = []

    def start(database_url: str, redis_url: str | None = None, **env: str) -> GunicornServer:
        settings: dict[str, Any] = {**BASE_ENV, "DATABASE_URL": database_url, **env}
        if redis_url:
            settings["REDIS_URL"] = redis_url
        workdir = tmp_path / f"gunicorn-{len(started)}"
        server = GunicornServer(settings, workdir, workers=2)
        if not redis_url:  # else inherited from the test process's environment
            server.env.pop("REDIS_URL", None)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def reliability_case(record_property: Any) -> CaseRecorder:
    return CaseRecorder(record_property, group="fault")


@pytest.hookimpl(trylast=True)  # after -m/-k deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The 10 s flapping variant stands in for the 60 s one only when that is deselected."""
    names = {item.nodeid for item in items}
    long_run = "tests/faults/test_flapping.py::test_flapping_redis_under_load[60s]"
    if long_run in names:
        skip = pytest.mark.skip(reason="the 60 s flapping variant runs in this session")
        for item in items:
            if item.nodeid.endswith("test_flapping_redis_under_load[10s]"):
                item.add_marker(skip)
