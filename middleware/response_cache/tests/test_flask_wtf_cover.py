# mypy: allow-untyped-defs, allow-incomplete-defs
"""Flask-WTF's CSRF ``before_request`` hook and the fast path (``contrib/flask_wtf.py``).

Each app counts the requests Flask dispatched in a ``before_request`` hook it vouches for:
a hit that leaves the count unchanged was answered below Flask.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_response_cache import CacheCore, ResponseCache, cache_response
from flask_response_cache.contrib import flask_wtf as adapter
from flask_wtf.csrf import CSRFProtect
from frc_helpers import anonymous, count_flask_entries, warnings_naming


def build(core: CacheCore, **config: Any) -> Flask:
    app = Flask("wtf")
    app.config.update({"TESTING": True, "SECRET_KEY": "k", **config})
    count_flask_entries(app)
    CSRFProtect(app)
    ResponseCache(app, core=core)

    @app.route("/board", methods=["GET", "POST"])
    @cache_response(ttl=60, scope="public")
    def board() -> dict[str, list[str]]:
        return {"board": ["a"]}

    return app


def test_an_app_with_csrf_protect_keeps_the_fast_path(memory_core, caplog):
    app = build(memory_core)
    with caplog.at_level(logging.WARNING, logger="flask_response_cache"):
        miss = anonymous(app, "/board")
        hit = anonymous(app, "/board")
    assert miss.reached_flask and miss.headers["X-Cache"] == "MISS"
    assert not hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert warnings_naming(caplog, "csrf_protect") == []


def test_writes_without_a_token_are_still_refused(memory_core):
    app = build(memory_core)
    anonymous(app, "/board")
    refused = anonymous(app, "/board", method="POST")
    assert refused.status_code == 400 and refused.reached_flask


def test_a_csrf_check_on_get_keeps_its_route_on_flask_and_refuses_before_a_hit(memory_core, caplog):
    anonymous(build(memory_core), "/board")  # the entry exists (one shared core)
    caplog.clear()
    strict = build(memory_core, WTF_CSRF_METHODS=["GET", "POST"])
    with caplog.at_level(logging.WARNING, logger="flask_response_cache"):
        refused = anonymous(strict, "/board")
    assert refused.status_code == 400 and refused.reached_flask
    assert refused.headers["X-Cache"] == "BYPASS"
    assert len(warnings_naming(caplog, "csrf_protect")) == 1


def test_a_flask_wtf_release_nobody_read_is_not_covered(memory_core, monkeypatch):
    monkeypatch.setattr(adapter, "VERIFIED", ("9.",))
    app = build(memory_core)
    anonymous(app, "/board")
    hit = anonymous(app, "/board")
    assert hit.reached_flask and hit.headers["X-Cache"] == "HIT"


def test_the_cover_names_only_the_hook_of_the_apps_own_csrf_protect(memory_core):
    app, other = build(memory_core), build(memory_core)
    covers = adapter.cover(app)
    assert covers is not None
    hooks = app.before_request_funcs[None]
    others = other.before_request_funcs[None]
    assert [covers(hook) is not None for hook in hooks] == [False, True]  # probe, csrf
    assert [covers(hook) is not None for hook in others] == [False, False]
    assert adapter.cover(Flask("bare")) is None
