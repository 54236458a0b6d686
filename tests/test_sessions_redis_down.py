"""Redis-only sessions (``SESSION_BACKEND=redis``) while Redis is dead (SIGKILL) or hung
(SIGSTOP): never wrongly logged in, 503 where a login is needed, and fast after one short
timeout. (The default store, SQL read through Redis, keeps everyone signed in instead:
``test_sessions_survive_redis.py``.) Latencies are measured around real requests."""

from __future__ import annotations

import time

import pytest

from tests.conftest import PASSWORD
from tests.support.fake_clock import FakeClock

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

POSTS = "/api/v1/posts"
ME = "/api/v1/auth/me"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
COOKIE = "session"


@pytest.fixture(params=["kill", "pause"])
def fault(request):
    return request.param


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def app(make_app, redis_server, clock):
    return make_app(redis=redis_server, CLOCK=clock, SESSION_BACKEND="redis")


@pytest.fixture
def signed_in(app, actions):
    client = app.test_client()
    actions.register(client)
    actions.login(client)
    return client


def break_redis(server, fault):
    getattr(server, fault)()


def recover(app, server, fault, clock):
    if fault == "pause":
        server.resume()
    else:
        server.restart(from_snapshot=True)
    app.extensions["redis_link"].breaker.probe_now()  # the worker's prober runs


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    assert int(response.headers["Retry-After"]) >= 1
    assert "Set-Cookie" not in response.headers


def test_public_route_with_a_cookie_answers_200_as_anonymous(signed_in, redis_server, fault):
    break_redis(redis_server, fault)
    for _ in range(3):
        response = signed_in.get(POSTS)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers  # the user's cookie survives the outage
        assert response.headers["Cache-Control"] == "no-store"
    assert signed_in.get(f"{POSTS}/999").status_code == 404  # reads the session: anonymous


def test_routes_that_need_a_login_answer_503_never_logged_in(signed_in, redis_server, fault):
    break_redis(redis_server, fault)
    assert_unavailable(signed_in.get(ME))
    assert_unavailable(signed_in.post(POSTS, json={"title": "t", "body": "b"}))
    assert_unavailable(signed_in.get("/api/v1/users/me/posts"))


def test_requests_without_a_cookie_are_plainly_anonymous(app, redis_server, fault):
    break_redis(redis_server, fault)
    client = app.test_client()
    assert client.get(POSTS).status_code == 200
    assert client.get(ME).status_code == 401


def test_login_while_down_is_503_with_retry_after(app, actions, redis_server, fault):
    client = app.test_client()
    actions.register(client)
    break_redis(redis_server, fault)
    for _ in range(2):  # first: Redis fails mid-login; second: the circuit is open
        response = client.post(LOGIN, json={"email": "ann@example.com", "password": PASSWORD})
        assert_unavailable(response)
        assert response.get_json()["message"].startswith("Sign-in is temporarily unavailable")
    assert client.get_cookie(COOKIE) is None


def test_logout_while_down_does_not_report_success(app, signed_in, redis_server, fault, clock):
    redis_server.save_snapshot()
    break_redis(redis_server, fault)
    assert_unavailable(signed_in.post(LOGOUT))
    recover(app, redis_server, fault, clock)
    assert signed_in.get(ME).status_code == 200  # so 503 was the truth: still logged in
    assert signed_in.post(LOGOUT).status_code == 204
    assert signed_in.get(ME).status_code == 401


def test_sessions_work_again_after_recovery(app, signed_in, redis_server, fault, clock):
    redis_server.save_snapshot()
    break_redis(redis_server, fault)
    assert signed_in.get(ME).status_code == 503
    recover(app, redis_server, fault, clock)
    assert signed_in.get(ME).status_code == 200


def test_redis_restarted_empty_means_logged_out_not_errors(signed_in, redis_server):
    redis_server.restart()
    assert signed_in.get(ME).status_code == 401
    assert signed_in.get(POSTS).status_code == 200


def test_latency_is_one_short_timeout_then_near_zero(app, signed_in, redis_server, fault):
    """REDIS_TIMEOUT is 0.25 s: the first request pays it at most once, the rest nothing."""
    break_redis(redis_server, fault)
    start = time.perf_counter()
    assert signed_in.get(POSTS).status_code == 200
    first = time.perf_counter() - start
    later = []
    for _ in range(20):
        start = time.perf_counter()
        assert signed_in.get(POSTS).status_code == 200
        later.append(time.perf_counter() - start)
    assert first < 1.0
    assert max(later) < 0.05
    assert app.extensions["redis_link"].breaker.is_open


def test_sql_sessions_keep_logins_working_while_redis_is_down(make_app, redis_server, actions):
    app = make_app(redis=redis_server, SESSION_BACKEND="sql")
    client = app.test_client()
    actions.register(client)
    redis_server.kill()
    actions.login(client)
    assert client.get(ME).status_code == 200
    assert client.post(LOGOUT).status_code == 204
    assert client.get(ME).status_code == 401
