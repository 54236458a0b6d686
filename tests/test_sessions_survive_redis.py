"""The default session store with Redis (``SESSION_BACKEND=cached``: durable in SQL, read
through Redis) while Redis is dead (SIGKILL) or hung (SIGSTOP), and after it returns.

An outage costs speed, never a login, a logout or a signed-in write; a session destroyed
while Redis was out never comes back from Redis; a signed-in read with Redis up costs no
session query. Real redis-server processes, both databases; the breaker's probe is run
by hand (``probe_now``: what each worker's prober does every 0.25 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from extensions import db
from middleware.sessions import stores
from models import SessionRecord
from models.types import utcnow
from tests.conftest import PASSWORD
from tests.support.fake_clock import FakeClock

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

POSTS = "/api/v1/posts"
ME = "/api/v1/auth/me"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"
COOKIE = "session"


@pytest.fixture(params=["kill", "pause"])
def fault(request):
    return request.param


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def app(make_app, redis_server, clock):
    app = make_app(redis=redis_server, CLOCK=clock)  # SESSION_BACKEND: the default
    assert isinstance(app.session_interface, stores.CachedSessions)
    return app


@pytest.fixture
def broken(app, redis_server, fault) -> Iterator[Any]:
    """Call ``broken()`` to start the outage, ``broken.heal()`` to end it."""

    class Outage:
        def __call__(self) -> None:
            redis_server.save_snapshot()  # a killed server comes back with what it held
            getattr(redis_server, fault)()

        def heal(self) -> None:
            if fault == "pause":
                redis_server.resume()
            else:
                redis_server.restart(from_snapshot=True)
            app.extensions["redis_link"].breaker.probe_now()
            assert not app.extensions["redis_link"].breaker.is_open

    outage = Outage()
    yield outage
    if redis_server.paused:
        redis_server.resume()


def login(app: Flask, email: str = "ann@example.com") -> FlaskClient:
    client = app.test_client()
    response = client.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def with_cookie(app: Flask, value: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def cached_in_redis(redis_server) -> list[bytes]:
    return [key for key in redis_server.client().scan_iter("*sessions:*")]


def test_login_me_and_a_write_work_during_the_outage(app, actions, broken):
    author = actions.signed_in()
    post = actions.create_post(author, title="Before")
    url = f"{POSTS}/{post['id']}"
    reader = app.test_client()
    reader.get(url)
    assert reader.get(url).headers["X-Cache"] == "HIT"
    broken()
    ann = login(app)  # a fresh login while Redis is out
    assert ann.get(ME).status_code == 200
    assert author.get(ME).get_json()["email"] == "ann@example.com"  # signed in before
    edited = author.patch(url, json={"title": "During"})
    assert edited.status_code == 200, edited.get_data(as_text=True)
    assert reader.get(url).get_json()["title"] == "During"
    broken.heal()
    for _ in range(3):  # the stale entry is in Redis still: replayed before it is believed
        assert reader.get(url).get_json()["title"] == "During"
    assert reader.get(url).headers["X-Cache"] == "HIT"
    assert ann.get(ME).status_code == 200 and author.get(ME).status_code == 200


def test_logout_during_the_outage_stays_logged_out_after_it(app, actions, redis_server, broken):
    ann = actions.signed_in()
    assert ann.get(ME).status_code == 200  # now cached in Redis
    assert cached_in_redis(redis_server)
    old = cookie_of(ann)
    broken()
    assert ann.post(LOGOUT).status_code == 204
    assert with_cookie(app, old).get(ME).status_code == 401
    broken.heal()
    assert with_cookie(app, old).get(ME).status_code == 401
    assert stored(app, old) is None  # the copy in Redis is not believed: it is gone


def test_a_session_touched_during_the_outage_is_not_read_stale_after_it(
    app, actions, clock, broken
):
    """Its cached copy (seen_at at login) would be idle-expired by now; the SQL row is not."""
    ann = actions.signed_in()
    assert ann.get(ME).status_code == 200  # cached in Redis with seen_at = login
    broken()
    clock.advance(1000)
    assert ann.get(ME).status_code == 200  # touched: seen_at rewritten in SQL only
    broken.heal()
    clock.advance(1000)  # 2000 s after login, 1000 s after the touch (idle timeout: 1800)
    assert ann.get(ME).status_code == 200


def stored(app: Flask, cookie: str) -> Any:
    """What the session store answers for ``cookie`` (Redis first, then SQL)."""
    interface: stores.CachedSessions = app.session_interface  # type: ignore[assignment]
    with app.test_request_context():
        return interface._retrieve_session_data(interface._get_store_id(cookie))


def test_logout_all_during_the_outage_ends_every_session(app, actions, broken):
    phone = actions.signed_in()
    laptop = login(app)
    old = [cookie_of(phone), cookie_of(laptop)]
    assert all(with_cookie(app, value).get(ME).status_code == 200 for value in old)
    broken()
    assert laptop.post(LOGOUT_ALL).status_code == 204
    broken.heal()
    assert [with_cookie(app, value).get(ME).status_code for value in old] == [401, 401]
    assert login(app).get(ME).status_code == 200  # signing in again works


def test_a_session_created_during_the_outage_works_after_it(app, actions, broken):
    actions.register(app.test_client())
    broken()
    ann = login(app)
    assert ann.get(ME).status_code == 200
    broken.heal()
    assert ann.get(ME).status_code == 200
    assert ann.get(ME).status_code == 200  # read from Redis now
    assert ann.post(LOGOUT).status_code == 204
    assert ann.get(ME).status_code == 401


def test_one_short_timeout_then_near_zero_extra(app, actions, redis_server, broken):
    """REDIS_TIMEOUT is 0.25 s: the first request pays it at most once, the rest ~nothing."""
    ann = actions.signed_in()
    healthy = []
    for _ in range(10):
        started = time.perf_counter()
        assert ann.get(ME).status_code == 200
        healthy.append(time.perf_counter() - started)
    broken()
    started = time.perf_counter()
    assert ann.get(ME).status_code == 200
    first = time.perf_counter() - started
    later = []
    for path in [ME, POSTS] * 10:
        started = time.perf_counter()
        assert ann.get(path).status_code == 200
        later.append(time.perf_counter() - started)
    assert first < 1.0
    assert sorted(later)[len(later) // 2] - sorted(healthy)[len(healthy) // 2] < 0.020
    assert max(later) < 0.1  # none waits on Redis
    assert app.extensions["redis_link"].breaker.is_open


def test_a_killed_redis_costs_a_signed_in_write_no_wait(app, actions, redis_server):
    """Refused connections: nobody can read the old entry, so no trust lease is waited.
    (A hung Redis makes a write wait one lease, 0.5 s: test_write_during_outage.py.)"""
    ann = actions.signed_in()
    post = actions.create_post(ann)
    redis_server.kill()
    ann.get(ME)  # the worker's one timeout
    took = []
    for n in range(3):
        started = time.perf_counter()
        assert ann.patch(f"{POSTS}/{post['id']}", json={"title": f"t{n}"}).status_code == 200
        took.append(time.perf_counter() - started)
    assert max(took) < 0.2


def test_a_snapshot_restore_brings_back_no_logged_out_session(app, actions, redis_server):
    ann = actions.signed_in()
    assert ann.get(ME).status_code == 200
    old = cookie_of(ann)
    redis_server.save_snapshot()  # holds the session's cached copy
    assert ann.post(LOGOUT).status_code == 204
    redis_server.restart(from_snapshot=True)
    app.extensions["redis_link"].breaker.probe_now()
    assert cached_in_redis(redis_server)  # the restored copy is there...
    assert with_cookie(app, old).get(ME).status_code == 401  # ...and never believed


@pytest.fixture
def session_queries(app) -> Iterator[list[str]]:
    """Every SQL statement that touches the ``sessions`` table, as the database saw it."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if "sessions" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_signed_in_read_with_redis_up_costs_no_session_query(app, actions, session_queries):
    ann = actions.signed_in()
    assert ann.get(ME).status_code == 200  # the first read fills Redis from SQL
    session_queries.clear()
    for _ in range(5):
        assert ann.get(ME).status_code == 200
        assert ann.get(POSTS).status_code == 200
    assert session_queries == []


def test_with_redis_down_sessions_are_read_from_sql(app, actions, redis_server, session_queries):
    ann = actions.signed_in()
    redis_server.kill()
    session_queries.clear()
    assert ann.get(ME).status_code == 200
    assert any(query.lstrip().upper().startswith("SELECT") for query in session_queries)


def add_expired(app: Flask, count: int) -> None:
    with app.app_context(), db.engine.begin() as conn:
        for n in range(count):
            conn.execute(
                SessionRecord.__table__.insert().values(
                    id=f"sess:expired-{n:04d}", data=b"{}", expiry=utcnow().replace(year=2000)
                )
            )


def count_sessions(app: Flask) -> int:
    with app.app_context(), db.engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM sessions")).scalar_one())


def test_expired_rows_are_purged_in_bounded_batches(app, actions, monkeypatch):
    monkeypatch.setattr(stores, "PURGE_EVERY", 2)
    monkeypatch.setattr(stores, "PURGE_BATCH", 3)
    actions.register(app.test_client())
    add_expired(app, 7)
    clients = [login(app) for _ in range(4)]  # 4 writes: 2 purges of at most 3 rows each
    assert count_sessions(app) == 4 + 7 - 6
    for client in clients:
        assert client.get(ME).status_code == 200  # live sessions are never purged


def test_the_purge_reads_the_expiry_index_not_the_whole_table(app, db_backend):
    if db_backend != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL picks by table statistics")
    add_expired(app, 50)
    with app.app_context(), db.engine.connect() as conn:
        compiled = stores.expired_batch().compile(dialect=conn.dialect)
        names = compiled.positiontup or []
        values = tuple("2000-01-01" if name.startswith("expiry") else 500 for name in names)
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)]
    assert plan and plan[0].startswith("SEARCH sessions USING INDEX ix_sessions_expiry"), plan
