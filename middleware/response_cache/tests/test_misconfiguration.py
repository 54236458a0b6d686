# mypy: allow-untyped-defs, allow-incomplete-defs
"""Every silent misconfiguration a new user met is loud now, or works: each fails at
``init_app`` or at registration with a message naming the key or the route."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request, session
from flask_response_cache import (
    MemoryStorage,
    ResponseCache,
    ResponseCacheConfigError,
    cache_response,
)
from flask_response_cache.state import state_for


def app_with(**config: Any) -> Flask:
    app = Flask("misconfigured")
    app.config.update(TESTING=True, SECRET_KEY="k", **config)
    return app


def test_a_redis_url_alone_selects_redis(redis_server):
    app = app_with(RESPONSE_CACHE_REDIS_URL=redis_server.url)
    ResponseCache(app)
    assert state_for(app).settings.storage == "redis"
    assert state_for(app).core.storage.shared


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:1/main",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
        "rediss://h:1/0",
    ],
)
def test_every_topology_is_accepted_at_start_up(url):
    app = app_with(RESPONSE_CACHE_REDIS_URL=url)
    ResponseCache(app)  # built lazily or with short timeouts: nothing connects yet
    assert state_for(app).settings.redis_url == url


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"RESPONSE_CACHE_REDIS_URL": "http://cache:80"}, "RESPONSE_CACHE_REDIS_URL"),
        ({"RESPONSE_CACHE_REDIS_URL": "redis+sentinel://h:1"}, "RESPONSE_CACHE_REDIS_URL"),
        (
            {"RESPONSE_CACHE_STORAGE": "memory", "RESPONSE_CACHE_REDIS_URL": "redis://h:1/0"},
            "RESPONSE_CACHE_STORAGE",
        ),
        ({"RESPONSE_CACHE_TTL": 30}, "RESPONSE_CACHE_TTL"),
        ({"RESPONSE_CACHE_ENABLE": False}, "RESPONSE_CACHE_ENABLE"),
        ({"CACHE_ENABLED": False}, "CACHE_ENABLED"),
        ({"RESPONSE_CACHE_ENABLED": "no"}, "RESPONSE_CACHE_ENABLED"),
        ({"RESPONSE_CACHE_CREDENTIAL_COOKIES": "session"}, "RESPONSE_CACHE_CREDENTIAL_COOKIES"),
        ({"RESPONSE_CACHE_REDIS_TIMEOUT": 0}, "RESPONSE_CACHE_REDIS_TIMEOUT"),
        ({"RESPONSE_CACHE_BREAKER_FAILURES": 0}, "RESPONSE_CACHE_BREAKER_FAILURES"),
    ],
)
def test_bad_settings_stop_init_app_naming_the_key(config, named):
    with pytest.raises(ResponseCacheConfigError, match=named):
        ResponseCache(app_with(**config))


def test_cache_enabled_next_to_its_own_key_is_left_to_its_owner():
    app = app_with(CACHE_ENABLED=False, RESPONSE_CACHE_ENABLED=True)
    ResponseCache(app)
    assert state_for(app).settings.enabled


def test_a_route_without_a_scope_is_refused_naming_it(memory_core):
    app = app_with()
    ResponseCache(app, core=memory_core)
    with pytest.raises(ResponseCacheConfigError, match=r"route items .*scope"):

        @app.get("/items")
        @cache_response(ttl=60)
        def items() -> dict[str, str]:
            return {}


def test_routes_registered_before_init_app_are_checked_too(memory_core):
    app = app_with()

    @app.get("/items/<int:item_id>")
    @cache_response(ttl=60, scope="public", tags=["item:{id}"])
    def items(item_id: int) -> dict[str, str]:
        return {}

    with pytest.raises(ResponseCacheConfigError, match=r"route items .*item:\{id\}"):
        ResponseCache(app, core=memory_core)


def test_a_user_route_needs_a_user_id_loader(memory_core):
    app = app_with()
    ResponseCache(app, core=memory_core)
    with pytest.raises(ResponseCacheConfigError, match=r"route mine .*user id loader"):

        @app.get("/mine")
        @cache_response(ttl=60, scope="user")
        def mine() -> dict[str, str]:
            return {}


def test_a_user_route_with_a_loader_gets_an_entry_per_user(memory_core):
    app = app_with()
    ResponseCache(app, core=memory_core, user_id=lambda: session.get("uid"))

    @app.get("/mine")
    @cache_response(ttl=60, scope="user")
    def mine() -> dict[str, Any]:
        return {"uid": session.get("uid")}

    @app.post("/login/<int:uid>")
    def login(uid: int) -> str:
        session["uid"] = uid
        return ""

    ann, bob = app.test_client(), app.test_client()
    ann.post("/login/1")
    bob.post("/login/2")
    assert ann.get("/mine").headers["X-Cache"] == "MISS"
    assert ann.get("/mine").get_json() == {"uid": 1}
    assert bob.get("/mine").get_json() == {"uid": 2}
    assert app.test_client().get("/mine").headers["Cache-Status"].endswith("detail=anonymous")


@pytest.mark.parametrize("cookie", ["session", "remember_token", "access_token_cookie"])
def test_a_request_with_any_credential_cookie_bypasses_public_entries(memory_core, cookie):
    app = app_with()
    ResponseCache(app, core=memory_core)

    @app.get("/greeting")
    @cache_response(ttl=60, scope="public")
    def greeting() -> dict[str, str]:
        # A view that authenticates from its own cookie, as Flask-Login and
        # flask-jwt-extended do.
        return {"hello": request.cookies.get(cookie, "stranger")}

    signed_in = app.test_client()
    signed_in.set_cookie(cookie, "alice")
    answer = signed_in.get("/greeting")
    assert answer.get_json() == {"hello": "alice"}
    assert answer.headers["Cache-Status"].endswith("detail=session")
    assert answer.headers["Cache-Control"] == "private"
    anonymous = app.test_client().get("/greeting")
    assert anonymous.get_json() == {"hello": "stranger"}
    assert app.test_client().get("/greeting").headers["X-Cache"] == "HIT"


def test_the_credential_cookies_follow_the_extensions_settings(memory_core):
    app = app_with(
        SESSION_COOKIE_NAME="sid", REMEMBER_COOKIE_NAME="keep", JWT_ACCESS_COOKIE_NAME="jwt"
    )
    ResponseCache(app, core=memory_core)
    assert state_for(app).settings.credential_cookies[:3] == ("sid", "keep", "jwt")
    other = app_with(RESPONSE_CACHE_CREDENTIAL_COOKIES=["auth"])
    ResponseCache(other, core=memory_core)
    assert state_for(other).settings.credential_cookies == ("auth",)


def test_the_cli_refuses_toggles_that_cannot_reach_the_server():
    app = app_with()
    ResponseCache(app)  # the default in-process storage

    @app.get("/items")
    @cache_response(ttl=60, scope="public")
    def items() -> dict[str, str]:
        return {}

    runner = app.test_cli_runner()
    result = runner.invoke(args=["cache", "disable", "items"])
    assert result.exit_code == 1
    assert "this command's process only" in result.output and "Nothing was changed" in result.output
    assert state_for(app).toggles.reload() == {}
    purge = runner.invoke(args=["cache", "purge", "--pattern", "http:items:*"])
    assert purge.exit_code == 1


def test_the_cli_toggles_a_shared_storage(redis_server):
    app = app_with(RESPONSE_CACHE_REDIS_URL=redis_server.url)
    ResponseCache(app)

    @app.get("/items")
    @cache_response(ttl=60, scope="public")
    def items() -> dict[str, str]:
        return {}

    result = app.test_cli_runner().invoke(args=["cache", "disable", "items"])
    assert result.exit_code == 0, result.output
    server = Flask("server")  # another process's view of the same storage
    server.config.update(TESTING=True, RESPONSE_CACHE_REDIS_URL=redis_server.url)
    ResponseCache(server)
    server.add_url_rule("/items", "items", items)
    assert server.test_client().get("/items").headers["Cache-Status"].endswith("detail=disabled")


def test_an_explicit_storage_is_used_as_given():
    app = app_with()
    storage = MemoryStorage()
    ResponseCache(app, storage=storage)
    assert state_for(app).core.storage is storage
    with pytest.raises(ResponseCacheConfigError):
        ResponseCache(app_with(), storage=storage, core=state_for(app).core)
