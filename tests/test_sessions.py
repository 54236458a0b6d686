"""Server-side sessions: cookie flags, fixation, timeouts, logout and revocation, on every
store alike: SQL read through Redis (the default with Redis), Redis only, and embedded (SQL)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from config import ConfigError, load_config
from tests.conftest import PASSWORD
from tests.support.fake_clock import FakeClock

ME = "/api/v1/auth/me"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
LOGOUT_ALL = "/api/v1/auth/logout-all"
COOKIE = "session"
IDLE, ABSOLUTE = 30 * 60, 8 * 3600


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["cached", "redis", "embedded"])
def mode(request):
    return request.param


@pytest.fixture
def app(mode, make_app, clock, request):
    """Overrides conftest's ``app``: each store, with a clock the test moves."""
    if mode == "embedded":
        return make_app(CLOCK=clock)
    redis = request.getfixturevalue("redis_server")
    return make_app(redis=redis, CLOCK=clock, SESSION_BACKEND=mode)


def set_cookie_header(response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookie.load(header)
    return cookie


def sid(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def stored_keys(server) -> list[str]:
    return sorted(k.decode() for k in server.client().scan_iter(match="sess:*"))


def test_login_cookie_is_httponly_samesite_lax_and_not_cached(client, actions):
    actions.register(client)
    response = client.post(LOGIN, json={"email": "ann@example.com", "password": PASSWORD})
    morsel = set_cookie_header(response)[COOKIE]
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert not morsel["secure"]  # development and testing run on plain http
    assert morsel["path"] == "/"
    assert len(morsel.value) >= 43  # 256 random bits, url-safe
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers["Vary"]


def test_cookie_is_secure_in_production(make_app, actions):
    production = load_config({"APP_ENV": "production", "SECRET_KEY": "s" * 32})
    assert production["SESSION_COOKIE_SECURE"] is True
    assert load_config({"APP_ENV": "development"})["SESSION_COOKIE_SECURE"] is False
    client = make_app(SESSION_COOKIE_SECURE=production["SESSION_COOKIE_SECURE"]).test_client()
    actions.register(client)
    response = client.post(LOGIN, json={"email": "ann@example.com", "password": PASSWORD})
    assert set_cookie_header(response)[COOKIE]["secure"]


def test_redis_only_sessions_are_sess_keys_with_a_ttl(make_app, redis_server, actions):
    app = make_app(redis=redis_server, SESSION_BACKEND="redis")
    client = app.test_client()
    actions.register(client)
    actions.login(client)
    key = f"sess:{sid(client)}"
    assert stored_keys(redis_server) == [key]
    assert 0 < redis_server.client().ttl(key) <= IDLE


def test_anonymous_requests_create_no_session(client):
    response = client.get("/api/v1/posts/1")
    assert "Set-Cookie" not in response.headers
    assert "private" not in response.headers.get("Cache-Control", "")


def test_a_made_up_cookie_is_never_adopted(client, actions):
    actions.register(client)
    client.set_cookie(COOKIE, "attacker-chosen-value")
    assert client.get(ME).status_code == 401
    actions.login(client)
    assert sid(client) != "attacker-chosen-value"
    client.set_cookie(COOKIE, "attacker-chosen-value")
    assert client.get(ME).status_code == 401


def test_login_issues_a_new_id_and_destroys_the_previous_session(client, actions, app):
    actions.register(client)
    actions.register(client, "bob@example.com", "Bob")
    actions.login(client)
    before = sid(client)
    actions.login(client, "bob@example.com")
    after = sid(client)
    assert after != before
    assert client.get(ME).get_json()["email"] == "bob@example.com"
    replay = app.test_client()
    replay.set_cookie(COOKIE, before)
    assert replay.get(ME).status_code == 401


def test_logout_then_replaying_the_old_cookie_is_refused(client, actions, app):
    actions.register(client)
    actions.login(client)
    old = sid(client)
    response = client.post(LOGOUT)
    assert response.status_code == 204
    assert set_cookie_header(response)[COOKIE]["expires"]  # cookie expired
    assert client.get(ME).status_code == 401
    replay = app.test_client()
    replay.set_cookie(COOKIE, old)
    assert replay.get(ME).status_code == 401


def test_logout_without_a_session_is_harmless(client):
    assert client.post(LOGOUT).status_code == 204


def test_logout_all_ends_every_session_of_the_user(app, actions):
    laptop = actions.signed_in()
    phone = app.test_client()
    actions.login(phone)
    other = app.test_client()
    actions.register(other, "bob@example.com", "Bob")
    actions.login(other, "bob@example.com")
    assert laptop.post(LOGOUT_ALL).status_code == 204
    assert laptop.get(ME).status_code == 401
    assert phone.get(ME).status_code == 401
    assert other.get(ME).status_code == 200  # other users keep their sessions
    actions.login(phone)  # logging in again works
    assert phone.get(ME).status_code == 200


def test_logout_all_needs_a_login(client):
    assert client.post(LOGOUT_ALL).status_code == 401


def test_a_session_restored_from_a_redis_snapshot_after_logout_is_refused(
    make_app, redis_server, actions
):
    app = make_app(redis=redis_server, SESSION_BACKEND="redis")
    client = app.test_client()
    actions.register(client)
    actions.login(client)
    old = sid(client)
    redis_server.save_snapshot()
    assert client.post(LOGOUT).status_code == 204
    assert stored_keys(redis_server) == []
    redis_server.restart(from_snapshot=True)
    assert stored_keys(redis_server) == [f"sess:{old}"]  # the logged-out session is back
    replay = app.test_client()
    replay.set_cookie(COOKIE, old)
    assert replay.get(ME).status_code == 401  # ... and refused: the DB version moved on
    assert stored_keys(redis_server) == []  # and removed on sight


def test_idle_timeout_is_enforced_server_side(client, actions, clock):
    actions.register(client)
    actions.login(client)
    clock.advance(IDLE - 1)
    assert client.get(ME).status_code == 200  # activity restarts the idle window
    clock.advance(IDLE - 1)
    assert client.get(ME).status_code == 200
    clock.advance(IDLE)
    response = client.get(ME)
    assert response.status_code == 401
    assert set_cookie_header(response)[COOKIE]["expires"]


def test_absolute_timeout_ends_even_an_active_session(client, actions, clock):
    actions.register(client)
    actions.login(client)
    for _ in range(ABSOLUTE // (20 * 60) - 1):
        clock.advance(20 * 60)
        assert client.get(ME).status_code == 200
    clock.advance(20 * 60)
    assert client.get(ME).status_code == 401


def test_reading_a_session_rewrites_it_at_most_once_a_minute(client, actions, clock):
    actions.register(client)
    actions.login(client)
    for _ in range(5):
        clock.advance(10)
        assert "Set-Cookie" not in client.get(ME).headers  # no store write either
    clock.advance(20)
    refreshed = client.get(ME)
    assert set_cookie_header(refreshed)[COOKIE].value == sid(client)


def test_responses_that_read_the_session_are_private(app, actions):
    client = actions.signed_in()
    post = actions.create_post(client)
    response = client.get(f"/api/v1/posts/{post['id']}")
    assert response.headers["Cache-Control"] == "private"
    assert "Cookie" in response.headers["Vary"]
    assert client.get(ME).headers["Cache-Control"] == "private, no-store"
    assert client.post(LOGOUT).headers["Cache-Control"] == "no-store"
    for path in ("/api/v1/posts", f"/api/v1/posts/{post['id']}"):
        anonymous = app.test_client().get(path)
        # No session behind it: nothing here makes it private (the response cache decides).
        assert "private" not in anonymous.headers.get("Cache-Control", "")


@pytest.mark.parametrize("value", ["x" * 4000, "%00%ff", "a.b.c", "é"])
def test_garbage_cookies_are_anonymous_not_errors(client, value):
    client.set_cookie(COOKIE, value)
    assert client.get("/api/v1/posts").status_code == 200
    assert client.get(ME).status_code == 401


def test_corrupt_stored_session_is_anonymous(make_app, redis_server, actions):
    app = make_app(redis=redis_server, SESSION_BACKEND="redis")
    client = app.test_client()
    actions.register(client)
    actions.login(client)
    redis_server.client().set(f"sess:{sid(client)}", b"\x80\x04not json")
    assert client.get("/api/v1/posts").status_code == 200
    assert client.get(ME).status_code == 401


def test_session_settings_are_checked_at_start_up():
    defaults = load_config({})
    assert (defaults["SESSION_IDLE_TIMEOUT"], defaults["SESSION_ABSOLUTE_TIMEOUT"]) == (
        IDLE,
        ABSOLUTE,
    )
    assert defaults["PERMANENT_SESSION_LIFETIME"].total_seconds() == ABSOLUTE
    assert defaults["SESSION_BACKEND"] is None
    for bad in (
        {"SESSION_IDLE_TIMEOUT": "7200", "SESSION_ABSOLUTE_TIMEOUT": "3600"},
        {"SESSION_IDLE_TIMEOUT": "5"},
        {"SESSION_BACKEND": "memcached"},
    ):
        with pytest.raises(ConfigError):
            load_config(bad)
