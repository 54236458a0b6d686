# mypy: allow-untyped-defs, allow-incomplete-defs
"""Flask-Login's ``after_request`` hook and the fast path (``contrib/flask_login.py``).

Each app counts the requests Flask dispatched in a ``before_request`` hook it vouches for:
a hit that leaves the count unchanged was answered below Flask.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_response_cache import CacheCore, ResponseCache, cache_response
from flask_response_cache.contrib import flask_login as adapter
from frc_helpers import anonymous, count_flask_entries, warnings_naming


class User(UserMixin):  # type: ignore[misc]  # Flask-Login ships no types
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def build(core: CacheCore, **config: Any) -> Flask:
    app = Flask("login")
    app.config.update({"TESTING": True, "SECRET_KEY": "k", **config})
    count_flask_entries(app)
    manager = LoginManager(app)
    manager.user_loader(User)
    ResponseCache(app, core=core)

    @app.post("/login/<user_id>")
    def login(user_id: str) -> dict[str, bool]:
        login_user(User(user_id), remember=True)
        return {"ok": True}

    @app.get("/news")
    @cache_response(ttl=60, scope="public")
    def news() -> dict[str, Any]:
        return {"news": ["a"], "anonymous": current_user.is_anonymous}

    return app


def test_an_app_with_flask_login_keeps_the_fast_path(memory_core, caplog):
    app = build(memory_core)
    with caplog.at_level(logging.WARNING, logger="flask_response_cache"):
        miss = anonymous(app, "/news")
        hit = anonymous(app, "/news")
    assert miss.reached_flask and miss.headers["X-Cache"] == "MISS"
    assert not hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert hit.get_json() == {"news": ["a"], "anonymous": True}
    assert warnings_naming(caplog, "_update_remember_cookie") == []


def test_a_remembered_login_gets_its_cookie_and_never_reads_the_public_entry(memory_core):
    app = build(memory_core)
    anonymous(app, "/news")  # stored
    browser = app.test_client()
    login = browser.post("/login/alice")
    assert "remember_token=" in " ".join(login.headers.getlist("Set-Cookie"))
    before = app.entered  # type: ignore[attr-defined]
    signed_in = browser.get("/news")
    assert app.entered == before + 1  # type: ignore[attr-defined]
    assert signed_in.headers["X-Cache"] == "BYPASS"
    assert signed_in.get_json()["anonymous"] is False


def test_credential_cookies_without_the_remember_cookie_keep_the_route_on_flask(
    memory_core, caplog
):
    app = build(memory_core, RESPONSE_CACHE_CREDENTIAL_COOKIES=["session"])
    with caplog.at_level(logging.WARNING, logger="flask_response_cache"):
        anonymous(app, "/news")
        hit = anonymous(app, "/news")
    assert hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert len(warnings_naming(caplog, "_update_remember_cookie")) == 1


def test_a_flask_login_release_nobody_read_is_not_covered(memory_core, monkeypatch):
    monkeypatch.setattr(adapter, "VERIFIED", ("9.",))
    app = build(memory_core)
    anonymous(app, "/news")
    hit = anonymous(app, "/news")
    assert hit.reached_flask and hit.headers["X-Cache"] == "HIT"


def test_with_refresh_each_request_a_fast_hit_leaves_out_only_a_moot_cookie_expiry(
    memory_core,
):
    # The hook marks and unmarks the empty session: the Flask path expires a session
    # cookie this client does not have. Everything else is the Flask path hit's.
    config = {"REMEMBER_COOKIE_REFRESH_EACH_REQUEST": True}
    flask_only = build(memory_core, RESPONSE_CACHE_FAST_PATH=False, **config)
    fast = build(memory_core, **config)
    anonymous(flask_only, "/news")
    slow_hit, fast_hit = anonymous(flask_only, "/news"), anonymous(fast, "/news")
    assert slow_hit.reached_flask and not fast_hit.reached_flask
    assert slow_hit.headers["X-Cache"] == fast_hit.headers["X-Cache"] == "HIT"
    assert slow_hit.headers.getlist("Set-Cookie") == [
        "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/"
    ]
    without_cookie = [(k, v) for k, v in slow_hit.headers.items() if k != "Set-Cookie"]
    assert list(fast_hit.headers.items()) == without_cookie
    assert fast_hit.get_data() == slow_hit.get_data()


def test_the_cover_names_only_the_apps_own_login_manager(memory_core):
    app = build(memory_core)
    other = LoginManager()
    covers = adapter.cover(app, ("session", "remember_token"))
    assert covers is not None
    assert covers(app.login_manager._update_remember_cookie) == adapter.REASON  # type: ignore[attr-defined]
    assert covers(other._update_remember_cookie) is None
    assert adapter.cover(Flask("bare"), ("session", "remember_token")) is None
