# mypy: allow-untyped-defs, allow-incomplete-defs
"""Declaring routes: decorators under flask-smorest, blueprint defaults, config, validation."""

from __future__ import annotations

import pytest
from flask import Blueprint as FlaskBlueprint
from flask import Flask
from flask_response_cache import (
    ResponseCache,
    ResponseCacheConfigError,
    cache_blueprint_defaults,
    cache_response,
    no_cache,
)
from flask_response_cache.state import state_for
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields


class Query(Schema):
    page = fields.Integer(load_default=1)


def smorest_app(standalone):
    app = standalone(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    bp = Blueprint("things", __name__, url_prefix="/things")
    app.calls = 0

    @bp.route("/inner")
    @bp.arguments(Query, location="query")
    @bp.response(200)
    @cache_response(ttl=30, query=["page"], scope="public")
    def inner(query):
        app.calls += 1
        return {"page": query["page"]}

    @bp.route("/outer")
    @cache_response(ttl=40, scope="public")
    @bp.arguments(Query, location="query")
    @bp.response(200)
    def outer(query):
        app.calls += 1
        return {"page": query["page"]}

    @bp.route("/never")
    @bp.response(200)
    @no_cache
    def never():
        return {}

    api.register_blueprint(bp)
    return app


@pytest.mark.parametrize(("path", "ttl"), [("/things/inner", 30), ("/things/outer", 40)])
def test_the_declaration_works_below_and_above_flask_smorests_decorators(standalone, path, ttl):
    app = smorest_app(standalone)
    client = app.test_client()
    assert client.get(path + "?page=2").headers["X-Cache"] == "MISS"
    hit = client.get(path + "?page=2")
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.get_json() == {"page": 2}
    assert hit.headers["Cache-Control"] == f"public, max-age={ttl}"
    assert app.calls == 1


def resolved(app, endpoint):
    route = state_for(app).routes.get(endpoint)
    assert route is not None, endpoint
    return route


def test_the_registry_resolves_by_endpoint_name(standalone):
    app = smorest_app(standalone)
    routes = state_for(app).routes
    assert resolved(app, "things.inner").ttl == 30
    assert resolved(app, "things.outer").ttl == 40
    assert routes.get("things.never") is None
    assert routes.reason("things.never") == "no-cache"
    assert [route.endpoint for route in routes.all()] == ["things.inner", "things.outer"]


def test_blueprint_defaults_fill_what_a_declaration_leaves_unsaid(standalone):
    app = standalone()
    bp = FlaskBlueprint("reports", __name__)
    cache_blueprint_defaults(bp, ttl=120, stale_if_error=600, vary=["Accept-Language"])

    @bp.get("/a")
    @cache_response(scope="public")
    def a():
        return {}

    @bp.get("/b")
    @cache_response(ttl=5, scope="public")
    def b():
        return {}

    @bp.get("/c")
    def c():  # undeclared: defaults never make a route cacheable
        return {}

    app.register_blueprint(bp)
    route_a = resolved(app, "reports.a")
    assert (route_a.ttl, route_a.stale_if_error, route_a.vary) == (120, 600, ("Accept-Language",))
    assert resolved(app, "reports.b").ttl == 5
    assert state_for(app).routes.get("reports.c") is None


def test_config_overrides_by_endpoint_name(standalone):
    app = standalone(RESPONSE_CACHE_OVERRIDES={"listing": {"ttl": 7, "stale_if_error": 9}})

    @app.get("/listing")
    @cache_response(ttl=60, scope="public")
    def listing():
        return {}

    answer = app.test_client().get("/listing")
    assert answer.headers["Cache-Control"] == "public, max-age=7, stale-if-error=9"


def test_an_override_can_switch_a_route_off(standalone):
    app = standalone(RESPONSE_CACHE_OVERRIDES={"off": {"enabled": False}})

    @app.get("/off")
    @cache_response(ttl=60, scope="public")
    def off():
        return {}

    client = app.test_client()
    client.get("/off")
    assert client.get("/off").headers["Cache-Status"].endswith("detail=disabled")


def test_a_tag_naming_an_unknown_argument_stops_the_app_at_registration(standalone):
    app = standalone()

    with pytest.raises(ResponseCacheConfigError, match=r"route typo .*'item:\{itemid\}'"):

        @app.get("/typo/<int:item_id>")
        @cache_response(ttl=60, tags=["item:{itemid}"], scope="public")
        def typo(item_id):
            return {}


def test_a_route_declared_after_its_registration_is_left_uncached_and_logged(standalone, caplog):
    app = standalone()

    def view(item_id):
        return {}

    app.add_url_rule("/late/<int:item_id>", "late", view)
    app.view_functions["late"] = cache_response(ttl=60, tags=["item:{nope}"], scope="public")(view)
    client = app.test_client()
    client.get("/late/1")
    answer = client.get("/late/1")
    assert answer.headers["Cache-Status"].endswith("detail=misconfigured")
    assert "route late" in caplog.text


def test_a_declaration_above_the_route_decorator_is_reported(standalone, caplog):
    app = standalone()

    @cache_response(ttl=60, scope="public")
    @app.get("/above")
    def above():
        return {}

    client = app.test_client()
    client.get("/above")
    assert client.get("/above").headers["Cache-Status"].endswith("detail=not-declared")
    assert "@cache_response sits above the route decorator" in caplog.text
    assert "above" in caplog.text


def test_vary_headers_select_variants(standalone):
    app = standalone()
    app.calls = 0

    @app.get("/greeting")
    @cache_response(ttl=60, vary=["Accept-Language"], scope="public")
    def greeting():
        from flask import request

        app.calls += 1
        return {"lang": request.headers.get("Accept-Language")}

    client = app.test_client()
    fr = client.get("/greeting", headers={"Accept-Language": "fr"})
    en = client.get("/greeting", headers={"Accept-Language": "en"})
    again = client.get("/greeting", headers={"Accept-Language": "fr"})
    assert (fr.get_json()["lang"], en.get_json()["lang"]) == ("fr", "en")
    assert again.headers["X-Cache"] == "HIT" and again.get_json()["lang"] == "fr"
    assert again.headers["Vary"] == "Accept-Encoding, Accept-Language, Cookie, Authorization"
    assert app.calls == 2


def test_a_route_without_a_scope_stops_the_app_at_registration(standalone):
    app = standalone()
    with pytest.raises(ResponseCacheConfigError, match=r"route noscope .*needs scope"):

        @app.get("/noscope")
        @cache_response(ttl=60)
        def noscope():
            return {}


def test_a_user_route_without_a_user_id_loader_stops_the_app(standalone):
    app = standalone()
    with pytest.raises(ResponseCacheConfigError, match=r"route mine .*user id loader"):

        @app.get("/mine")
        @cache_response(ttl=60, scope="user")
        def mine():
            return {}


def test_bad_declarations_fail_at_import_time():
    with pytest.raises(ValueError):
        cache_response(scope="everyone")
    with pytest.raises(ValueError):
        cache_response(ttl=0, scope="public")
    with pytest.raises(ValueError):
        cache_response(stale_if_error=-1, scope="public")
    with pytest.raises(ValueError):
        cache_response(tags=["post:{post.id}"], scope="public")

    @cache_response(query="page", tags="posts", scope="public")  # one name for a list
    def view():
        return {}

    declared = view.__response_cache_declaration__  # type: ignore[attr-defined]
    assert (declared.query, declared.tags) == (("page",), ("posts",))


@pytest.mark.parametrize(
    "config",
    [
        {"RESPONSE_CACHE_DEFAULT_TTL": 0},
        {"RESPONSE_CACHE_DEFAULT_TTL": "60"},
        {"RESPONSE_CACHE_MAX_BODY_BYTES": -1},
        {"RESPONSE_CACHE_STORAGE": "disk"},
        {"RESPONSE_CACHE_STORAGE": "redis"},
        {"RESPONSE_CACHE_USER_ID_LOADER": "services.auth.current_user"},
        {"RESPONSE_CACHE_OVERRIDES": {"x": {"ttl": 0}}},
        {"RESPONSE_CACHE_OVERRIDES": {"x": {"colour": "red"}}},
        {"RESPONSE_CACHE_OVERRIDES": ["x"]},
        {"RESPONSE_CACHE_TOGGLE_REFRESH": 5},
        {"RESPONSE_CACHE_IDENTIFIER": "has space"},
        {"RESPONSE_CACHE_NAMESPACE": "a*b"},
    ],
)
def test_invalid_settings_fail_at_start_up(config):
    app = Flask("bad")
    app.config.update(config)
    with pytest.raises(ResponseCacheConfigError):
        ResponseCache(app)


def test_settings_are_defaulted_into_the_config():
    app = Flask("defaults")
    ResponseCache(app)
    assert app.config["RESPONSE_CACHE_DEFAULT_TTL"] == 60
    assert state_for(app).settings.credential_cookies == (
        "session",
        "remember_token",
        "access_token_cookie",
        "refresh_token_cookie",
    )
    assert app.config["RESPONSE_CACHE_TOGGLE_REFRESH"] == 0.5
    assert "response_cache" in app.extensions


def test_disabled_extension_installs_no_hooks(standalone):
    app = standalone(RESPONSE_CACHE_ENABLED=False)

    @app.get("/x")
    @cache_response(ttl=60, scope="public")
    def x():
        return {}

    assert "X-Cache" not in app.test_client().get("/x").headers


@pytest.mark.parametrize("kind", ["memory", "null", "redis"])
def test_without_a_core_the_extension_builds_its_own_storage(request, kind):
    app = Flask("own-storage")
    if kind == "redis":
        app.config["RESPONSE_CACHE_REDIS_URL"] = request.getfixturevalue("redis_server").url
    app.config["RESPONSE_CACHE_STORAGE"] = kind
    ResponseCache(app)

    @app.get("/x")
    @cache_response(ttl=60, scope="public")
    def x():
        return {}

    client = app.test_client()
    client.get("/x")
    expected = "MISS" if kind == "null" else "HIT"
    assert client.get("/x").headers["X-Cache"] == expected
