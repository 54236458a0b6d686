"""Rate limits: the API and auth buckets, their headers, per-account login throttling,
and enforcement that survives a dead or hung Redis."""

from __future__ import annotations

import re

import pytest

from config import ConfigError, load_config
from tests.conftest import PASSWORD
from tests.support.fake_clock import FakeClock

POSTS = "/api/v1/posts"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


@pytest.fixture(params=["redis", "embedded"])
def mode(request):
    return request.param


@pytest.fixture
def build(mode, make_app, request):
    """make_app bound to a real Redis or embedded, per the ``mode`` parameter."""

    def builder(**overrides):
        if mode == "redis":
            return make_app(redis=request.getfixturevalue("redis_server"), **overrides)
        return make_app(**overrides)

    return builder


def limiter_keys(server) -> list[str]:
    return sorted(k.decode() for k in server.client().scan_iter(match="rl:*"))


def statuses(client, path, n, **kwargs):
    return [client.get(path, **kwargs).status_code for _ in range(n)]


def test_api_limit_answers_429_after_the_limit_with_all_headers(build):
    client = build(RATELIMIT_API="3 per minute").test_client()
    ok = [client.get(POSTS) for _ in range(3)]
    assert [r.status_code for r in ok] == [200, 200, 200]
    first = ok[0]
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert int(first.headers["X-RateLimit-Reset"]) > 1_600_000_000  # epoch seconds
    assert first.headers["RateLimit-Policy"] == '"api";q=3;w=60'
    assert re.fullmatch(r'"api";r=2;t=(\d+)', first.headers["RateLimit"])
    assert "Retry-After" not in first.headers  # only where it means "wait"

    refused = client.get(POSTS)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["status"] == "error"
    assert "3 per 1 minute" in body["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Policy"] == '"api";q=3;w=60'
    state = re.fullmatch(r'"api";r=0;t=(\d+)', refused.headers["RateLimit"])
    assert state is not None
    assert 0 < int(state[1]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"


def test_one_bucket_covers_every_api_route(build):
    client = build(RATELIMIT_API="3 per minute").test_client()
    assert client.get(POSTS).status_code == 200
    assert client.get(f"{POSTS}/1").status_code == 404
    assert client.get(ME).status_code == 401
    assert client.get(POSTS).status_code == 429


def test_auth_routes_have_a_stricter_shared_bucket_on_top(build):
    client = build(RATELIMIT_API="100 per minute", RATELIMIT_AUTH="2 per minute").test_client()
    me = client.get(ME)
    assert me.headers["RateLimit-Policy"] == '"api";q=100;w=60, "auth";q=2;w=60'
    assert re.fullmatch(r'"api";r=99;t=\d+, "auth";r=1;t=\d+', me.headers["RateLimit"])
    assert client.post("/api/v1/auth/logout").status_code == 204  # same auth bucket
    assert client.get(ME).status_code == 429
    assert client.get(POSTS).status_code == 200  # the API bucket still has room


def test_health_and_non_api_paths_are_exempt(build):
    client = build(RATELIMIT_API="2 per minute").test_client()
    for _ in range(5):
        health = client.get("/api/v1/health")
        assert health.status_code == 200
        assert "X-RateLimit-Limit" not in health.headers
        assert "RateLimit" not in health.headers
        assert client.get("/openapi.json").status_code == 200
    assert statuses(client, POSTS, 3) == [200, 200, 429]


def test_counters_live_in_redis_under_the_rl_prefix(make_app, redis_server):
    client = make_app(redis=redis_server, RATELIMIT_API="3 per minute").test_client()
    client.get(POSTS)
    keys = limiter_keys(redis_server)
    assert keys and all(k.startswith("rl:") for k in keys)
    assert any("127.0.0.1" in k for k in keys)


@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_limits_stay_enforced_in_memory_while_redis_is_down(make_app, redis_server, fault):
    clock = FakeClock()
    app = make_app(redis=redis_server, RATELIMIT_API="3 per minute", CLOCK=clock)
    client = app.test_client()
    assert client.get(POSTS).status_code == 200
    getattr(redis_server, fault)()
    # Redis held 1 hit; the process memory starts from 0, and still refuses the 4th.
    assert statuses(client, POSTS, 4) == [200, 200, 200, 429]
    assert app.extensions["redis_link"].breaker.is_open


def test_limits_return_to_redis_when_it_recovers(make_app, redis_server):
    clock = FakeClock()
    app = make_app(redis=redis_server, RATELIMIT_API="5 per minute", CLOCK=clock)
    client = app.test_client()
    redis_server.kill()
    assert statuses(client, POSTS, 2) == [200, 200]
    redis_server.restart()
    assert limiter_keys(redis_server) == []
    app.extensions["redis_link"].breaker.probe_now()  # the worker's prober runs
    assert client.get(POSTS).status_code == 200
    assert limiter_keys(redis_server)
    assert not app.extensions["redis_link"].breaker.is_open


# --- failed logins per account -------------------------------------------------------------


def login(client, email, password, address):
    return client.post(
        LOGIN,
        json={"email": email, "password": password},
        environ_overrides={"REMOTE_ADDR": address},
    )


@pytest.fixture
def throttled_app(build):
    return build(RATELIMIT_LOGIN_FAILURES="5 per 15 minutes")


@pytest.mark.parametrize("email", ["ann@example.com", "nobody@example.com"])
def test_failed_logins_are_throttled_per_account_across_addresses(throttled_app, email, actions):
    client = throttled_app.test_client()
    actions.register(client)  # ann exists; nobody does: both must look the same
    for i in range(5):
        failed = login(client, email, "wrong password", f"203.0.113.{i}")
        assert failed.status_code == 401
        assert failed.get_json()["message"] == "Invalid email or password"
    for password in ("wrong password", PASSWORD):  # even the right password waits
        refused = login(client, email, password, "198.51.100.7")
        assert refused.status_code == 429
        assert refused.get_json() == {
            "status": "error",
            "message": "Too many failed logins for this account; try again later.",
        }
        assert 1 <= int(refused.headers["Retry-After"]) <= 900


def test_the_account_is_the_normalised_email(throttled_app, actions):
    client = throttled_app.test_client()
    actions.register(client)
    for i, spelling in enumerate(["ANN@example.com", " ann@EXAMPLE.com ", "Ann@Example.Com"] * 2):
        expected = 401 if i < 5 else 429
        assert login(client, spelling, "nope", f"192.0.2.{i}").status_code == expected


def test_other_accounts_are_not_affected(throttled_app, actions):
    client = throttled_app.test_client()
    actions.register(client)
    actions.register(client, "bob@example.com", "Bob")
    for i in range(6):
        login(client, "ann@example.com", "nope", f"192.0.2.{i}")
    assert login(client, "bob@example.com", PASSWORD, "192.0.2.1").status_code == 200


def test_a_successful_login_clears_the_account_failures(throttled_app, actions):
    client = throttled_app.test_client()
    actions.register(client)
    for _ in range(4):
        assert login(client, "ann@example.com", "nope", "192.0.2.1").status_code == 401
    assert login(client, "ann@example.com", PASSWORD, "192.0.2.1").status_code == 200
    for _ in range(4):
        assert login(client, "ann@example.com", "nope", "192.0.2.1").status_code == 401


def test_account_counters_in_redis_do_not_contain_the_email(make_app, redis_server, actions):
    client = make_app(redis=redis_server).test_client()
    login(client, "secret.person@example.com", "nope", "192.0.2.1")
    keys = [k for k in limiter_keys(redis_server) if "login-failures" in k]
    assert len(keys) == 1
    assert "secret" not in keys[0] and "example" not in keys[0]


def test_switching_the_limiter_off_keeps_the_account_throttle(make_app, actions):
    app = make_app(RATELIMIT_ENABLED=False, RATELIMIT_API="1 per minute")
    client = app.test_client()
    assert statuses(client, POSTS, 3) == [200, 200, 200]
    assert "RateLimit" not in client.get(POSTS).headers
    actions.register(client)
    codes = [login(client, "ann@example.com", "nope", "192.0.2.1").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


@pytest.mark.parametrize("name", ["RATELIMIT_API", "RATELIMIT_AUTH", "RATELIMIT_LOGIN_FAILURES"])
def test_malformed_limits_fail_at_start_up(name):
    with pytest.raises(ConfigError, match=name):
        load_config({name: "plenty"})
