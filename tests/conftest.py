"""Shared fixtures: real databases, real redis-server processes, app builders.

- ``db_url`` is parametrised: every test that uses an app runs on SQLite, and
  also on PostgreSQL when ``TEST_DATABASE_URL`` is set (``.ci/run`` sets it).
  Each pytest process works in its own PostgreSQL schema, so concurrent runs
  on one server never see each other's rows.
- ``redis_server`` is a fresh private redis-server per test (tests kill, hang
  and restart it); ``make_app`` builds an app bound to it or, without
  ``redis=...``, in embedded mode.
- ``steady_heap``: modules that time requests served in this process use it
  (``pytestmark``), so no collection of the whole suite's heap lands in a timed request.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_response_cache import testing

from app import create_app
from extensions import db
from tests.support.redis_server import RedisServer

# argon2 at OWASP cost takes ~35 ms per hash; tests use the cheapest profile.
CHEAP_HASH = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
PASSWORD = "correct horse battery"
_PG_SCHEMA = f"t_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _backends() -> list[Any]:
    params: list[Any] = ["sqlite"]
    if os.environ.get("TEST_DATABASE_URL"):
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


def _pg_url() -> str:
    from config import database_url_from

    return database_url_from({"DATABASE_URL": os.environ["TEST_DATABASE_URL"]})


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    engine = sa.create_engine(_pg_url())
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{_PG_SCHEMA}"'))
    yield _PG_SCHEMA
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{_PG_SCHEMA}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=_backends())
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_config(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if db_backend == "sqlite":
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}"}
    schema = request.getfixturevalue("pg_schema")
    return {
        "SQLALCHEMY_DATABASE_URI": _pg_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "connect_args": {"options": f"-csearch_path={schema}"},
        },
    }


def _reset_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def steady_heap() -> Iterator[None]:
    with testing.steady_heap():
        yield


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def make_app(db_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    built: list[Flask] = []

    def build(redis: RedisServer | None = None, **overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            "APP_ENV": "testing",
            "SECRET_KEY": "test-secret-key-0123456789",
            "PASSWORD_HASH_PARAMS": CHEAP_HASH,
            "REDIS_URL": redis.url if redis else None,
            # One write per line, so capsys sees it at once (buffering: test_request_log.py).
            "ACCESS_LOG": "line",
            # Generous limits; the rate-limit tests set their own.
            "RATELIMIT_API": "10000 per minute",
            "RATELIMIT_AUTH": "10000 per minute",
            **db_config,
        }
        config.update(overrides)
        app = create_app(config)
        with app.app_context():
            db.create_all()
        built.append(app)
        return app

    yield build
    for app in built:
        _reset_tables(app)
        link = app.extensions.get("redis_link")
        if link is not None:
            link.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An embedded-mode app (no Redis) on the parametrised database."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Actions:
    """Test helpers that go through the public HTTP API, like a client would."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def register(
        self, client: FlaskClient, email: str = "ann@example.com", name: str = "Ann"
    ) -> dict[str, Any]:
        response = client.post(
            "/api/v1/auth/register", json={"email": email, "name": name, "password": PASSWORD}
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return dict(response.get_json())

    def login(self, client: FlaskClient, email: str = "ann@example.com") -> dict[str, Any]:
        response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.get_data(as_text=True)
        return dict(response.get_json())

    def signed_in(self, email: str = "ann@example.com", name: str = "Ann") -> FlaskClient:
        client = self.app.test_client()
        self.register(client, email, name)
        self.login(client, email)
        return client

    def create_post(self, client: FlaskClient, **fields: Any) -> dict[str, Any]:
        body = {"title": "Hello", "body": "World", **fields}
        response = client.post("/api/v1/posts", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        return dict(response.get_json())


@pytest.fixture
def actions(app: Flask) -> Actions:
    return Actions(app)


# --- Direct database helpers (appended for the API contract suites) ---------------------------
# Tests drive the API over HTTP; these reach the database underneath only to arrange what HTTP
# cannot (exact timestamps, many rows at once) and to prove that a refused request wrote nothing.


class DatabaseHelpers:
    """Read and arrange rows of one app's database, each call in its own app context."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table, as sorted reprs: equal snapshots mean nothing was written."""
        with self.app.app_context():
            return {
                table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
                for table in db.metadata.sorted_tables
            }

    def count(self, table_name: str) -> int:
        with self.app.app_context():
            table = db.metadata.tables[table_name]
            return int(
                db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )

    def insert_posts(
        self,
        author_id: int,
        count: int,
        *,
        published: bool = True,
        start: datetime | None = None,
        step: timedelta = timedelta(minutes=1),
        tags: tuple[str, ...] = (),
    ) -> list[int]:
        """Insert ``count`` posts created ``step`` apart from ``start``; their ids, oldest first."""
        from models import Post, Tag

        first = start or datetime(2024, 1, 1, tzinfo=UTC)
        with self.app.app_context():
            tag_rows = []
            for name in tags:
                tag = db.session.scalars(sa.select(Tag).where(Tag.name == name)).first()
                tag_rows.append(tag or Tag(name=name))
            posts = [
                Post(
                    title=f"Post {i}",
                    body=f"Body {i}",
                    published=published,
                    author_id=author_id,
                    created_at=first + i * step,
                    updated_at=first + i * step,
                    tags=list(tag_rows),
                )
                for i in range(count)
            ]
            db.session.add_all(posts)
            db.session.commit()
            return [post.id for post in posts]

    def set_times(
        self, post_id: int, created_at: datetime, updated_at: datetime | None = None
    ) -> None:
        from models import Post

        with self.app.app_context():
            db.session.execute(
                sa.update(Post)
                .where(Post.id == post_id)
                .values(created_at=created_at, updated_at=updated_at or created_at)
            )
            db.session.commit()


@pytest.fixture
def database(app: Flask) -> DatabaseHelpers:
    """Helpers bound to the default ``app``."""
    return DatabaseHelpers(app)


@pytest.fixture
def database_for() -> Callable[[Flask], DatabaseHelpers]:
    """Helpers for an app built with ``make_app(...)`` overrides."""
    return DatabaseHelpers
