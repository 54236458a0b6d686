# mypy: allow-untyped-defs, allow-incomplete-defs
"""The fast hit path (``fast_path.py``) on bare Flask apps: which requests it answers, and that
it answers them exactly as the Flask path would, from the same entries.

Each app counts the requests Flask dispatched in a ``before_request`` hook it vouches for
(``accounted_hooks``): a hit that leaves the count unchanged was answered below Flask.
Two apps sharing one ``CacheCore`` (fast path on and off) share every entry.
"""

from __future__ import annotations

import gzip
import logging
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask, Response, request
from flask_response_cache import (
    CacheCore,
    ResponseCache,
    ResponseCacheConfigError,
    RouteToggle,
    cache_response,
    fast_hit_safe,
    no_cache,
)
from flask_response_cache.fast_path import FastPath
from flask_response_cache.keys import MAX_QUERY_BYTES, cache_name
from flask_response_cache.record import Freshness, Record
from flask_response_cache.state import state_for
from flask_response_cache.testing import FakeClock
from frc_helpers import counters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def build(core: CacheCore, *, fast: bool = True, **config: Any) -> Flask:
    app = Flask("fastpath")
    app.config.update(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "RESPONSE_CACHE_FAST_PATH": fast,
            "RESPONSE_CACHE_IDENTIFIER": "c",
            "RESPONSE_CACHE_USER_ID_LOADER": lambda: request.headers.get("X-User"),
            **config,
        }
    )
    app.entered = 0  # type: ignore[attr-defined]
    app.calls = 0  # type: ignore[attr-defined]

    @fast_hit_safe("a test probe: counts the requests that reached Flask")
    def count_entries() -> None:
        app.entered += 1  # type: ignore[attr-defined]

    app.before_request(count_entries)
    ResponseCache(app, core=core)

    def called() -> int:
        app.calls += 1  # type: ignore[attr-defined]
        return int(app.calls)  # type: ignore[attr-defined]

    @app.get("/items/<int:item_id>")
    @cache_response(ttl=60, tags=["items"], query=["q"], scope="public")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "q": request.args.get("q"), "call": called()}

    @app.get("/search")
    @cache_response(ttl=60, scope="public")
    def search() -> dict[str, Any]:
        return {"args": sorted(request.args.items(multi=True)), "call": called()}

    @app.get("/big")
    @cache_response(ttl=60, scope="public")
    def big() -> Response:
        body = "".join(f"line {i}\n" for i in range(400)) + f"call {called()}\n"
        return Response(body, mimetype="text/plain", headers={"X-Extra": "kept"})

    @app.get("/lang")
    @cache_response(ttl=60, vary=["Accept-Language"], scope="public")
    def lang() -> dict[str, Any]:
        return {"lang": request.headers.get("Accept-Language"), "call": called()}

    @app.get("/host")
    @cache_response(ttl=60, key_host=True, scope="public")
    def host() -> dict[str, Any]:
        return {"host": request.host, "call": called()}

    @app.get("/swr")
    @cache_response(ttl=10, stale_while_revalidate=30, scope="public")
    def swr() -> dict[str, Any]:
        return {"call": called()}

    @app.get("/mine")
    @cache_response(ttl=60, scope="user")
    def mine() -> dict[str, Any]:
        return {"user": request.headers.get("X-User"), "call": called()}

    @app.get("/plain")
    def plain() -> dict[str, Any]:
        return {"call": called()}

    @app.route("/never", methods=["GET", "POST"])
    @no_cache
    def never() -> dict[str, Any]:
        return {"call": called()}

    return app


@pytest.fixture
def apps(memory_core: CacheCore) -> tuple[Flask, Flask]:
    """``(flask_only, fast)``: the same routes on one core, fast path off and on."""
    return build(memory_core, fast=False), build(memory_core)


@pytest.fixture
def fast(apps: tuple[Flask, Flask]) -> Flask:
    return apps[1]


def entered(app: Flask) -> int:
    return int(app.entered)  # type: ignore[attr-defined]


def get(app: Flask, path: str, **kwargs: Any) -> Any:
    before = entered(app)
    response = app.test_client(use_cookies=False).get(path, **kwargs)  # Cookie headers as given
    response.reached_flask = entered(app) != before  # type: ignore[attr-defined]
    return response


# -- installation and settings -----------------------------------------------------------------


def test_the_fast_path_wraps_wsgi_app_unless_switched_off(memory_core):
    on = build(memory_core)
    assert isinstance(on.wsgi_app, FastPath)
    assert state_for(on).fast_path is on.wsgi_app
    off = build(memory_core, fast=False)
    assert not isinstance(off.wsgi_app, FastPath)
    assert state_for(off).fast_path is None


def test_the_switch_is_validated_at_start_up(memory_core):
    with pytest.raises(ResponseCacheConfigError, match="RESPONSE_CACHE_FAST_PATH"):
        build(memory_core, RESPONSE_CACHE_FAST_PATH="yes")


def test_switched_off_every_hit_goes_through_flask(apps):
    flask_only, _ = apps
    get(flask_only, "/items/1")
    hit = get(flask_only, "/items/1")
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.reached_flask


# -- hits below Flask --------------------------------------------------------------------------


def test_a_hit_is_answered_below_flask_from_the_entry_flask_stored(apps):
    flask_only, fast = apps
    miss = get(flask_only, "/items/7?q=a")
    assert miss.headers["X-Cache"] == "MISS"
    hit = get(fast, "/items/7?q=a")
    assert not hit.reached_flask
    assert hit.status_code == 200
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.headers["Cache-Status"] == "c; hit; ttl=60"
    assert hit.get_json() == miss.get_json() == {"id": 7, "q": "a", "call": 1}
    assert fast.calls == 0


def test_a_miss_on_the_fast_app_is_filled_by_flask_then_served_below_it(fast):
    miss = get(fast, "/items/3")
    assert miss.reached_flask and miss.headers["X-Cache"] == "MISS"
    hit = get(fast, "/items/3")
    assert not hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert fast.calls == 1


def test_fast_hits_have_the_flask_path_hits_headers(apps, clock):
    flask_only, fast = apps
    get(flask_only, "/big")
    clock.advance(3)
    for headers in ({}, {"Accept-Encoding": "gzip"}, {"If-None-Match": "*"}):
        slow_hit = get(flask_only, "/big", headers=headers)
        fast_hit = get(fast, "/big", headers=headers)
        assert slow_hit.reached_flask and not fast_hit.reached_flask
        assert fast_hit.status_code == slow_hit.status_code
        assert list(fast_hit.headers.items()) == list(slow_hit.headers.items())
        assert fast_hit.get_data() == slow_hit.get_data()
    assert fast_hit.headers["Age"] == "3"


def test_head_is_answered_from_the_get_entry(apps):
    flask_only, fast = apps
    body = get(flask_only, "/big").get_data()
    head = fast.test_client().head("/big")
    slow_head = flask_only.test_client().head("/big")
    assert head.status_code == 200
    assert head.headers["X-Cache"] == "HIT"
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(body))
    assert list(head.headers.items()) == list(slow_head.headers.items())


def test_if_none_match_is_answered_with_304_without_entity_headers(apps):
    flask_only, fast = apps
    etag = get(flask_only, "/big").headers["ETag"]
    not_modified = get(fast, "/big", headers={"If-None-Match": f'W/{etag}, "other"'})
    assert not not_modified.reached_flask
    assert not_modified.status_code == 304
    assert not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == etag
    assert "Content-Type" not in not_modified.headers
    assert "Content-Length" not in not_modified.headers
    changed = get(fast, "/big", headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


def test_gzip_is_served_as_stored_to_clients_that_accept_it_and_inflated_for_others(apps):
    flask_only, fast = apps
    plain_body = get(flask_only, "/big").get_data()
    assert len(plain_body) > 1024
    zipped = get(fast, "/big", headers={"Accept-Encoding": "br, gzip;q=0.5"})
    assert not zipped.reached_flask
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain_body
    assert zipped.headers["Content-Length"] == str(len(zipped.get_data()))
    refused = get(fast, "/big", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.get_data() == plain_body
    assert refused.headers["ETag"] == zipped.headers["ETag"]
    assert refused.headers["X-Extra"] == "kept"


def test_fast_hits_are_counted(fast):
    get(fast, "/items/1")
    for _ in range(3):
        get(fast, "/items/1")
    assert counters(fast, "item") == {
        "hit": 3,
        "miss": 1,
        "stale": 0,
        "bypass": 0,
        "store": 1,
        "error": 0,
    }


# -- names: both paths build the same one ------------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "q", "page", "Q", "utm_source", "gclid", "x y", "é", "&", "="])
_VALUES = st.text(alphabet=string.ascii_letters + string.digits + " =&;+%/é", max_size=8)


@st.composite
def queries(draw: Callable[..., Any]) -> str:
    """Raw query strings as clients send them: encoded pairs, blanks, repeats, odd fragments."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["pair", "pair", "bare", "raw"]))
        name = quote(draw(_NAMES), safe="")
        if kind == "pair":
            parts.append(f"{name}={quote(draw(_VALUES), safe='')}")
        elif kind == "bare":
            parts.append(name)
        else:
            parts.append(draw(st.sampled_from(["a=1;a=2", "=x", "a==b", "%zz=1", "+=+", "a=%C3"])))
    return "&".join(parts)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries())
def test_a_flask_path_miss_is_a_fast_path_hit_whatever_the_query(apps, query):
    flask_only, fast = apps
    for path in (f"/search?{query}", f"/items/5?{query}"):
        stored = get(flask_only, path)
        assert stored.headers["X-Cache"] in {"MISS", "HIT"}
        hit = get(fast, path)
        assert not hit.reached_flask, (path, hit.headers)
        assert hit.headers["X-Cache"] == "HIT"
        assert hit.get_data() == stored.get_data()


def test_parameters_the_view_ignores_share_the_entry(fast):
    get(fast, "/items/5?q=1&utm_source=x")
    for path in ("/items/5?utm_campaign=y&q=1", "/items/5?q=1&q=2", "/items/05?q=1&other=3"):
        hit = get(fast, path)
        assert not hit.reached_flask, path
        assert hit.get_json()["call"] == 1


def test_vary_headers_select_the_entry(apps):
    flask_only, fast = apps
    get(flask_only, "/lang", headers={"Accept-Language": "en,  fr"})
    same = get(fast, "/lang", headers={"Accept-Language": "en, fr"})  # normalised alike
    assert not same.reached_flask and same.headers["X-Cache"] == "HIT"
    other = get(fast, "/lang", headers={"Accept-Language": "de"})
    assert other.reached_flask and other.headers["X-Cache"] == "MISS"
    absent = get(fast, "/lang")
    assert absent.reached_flask and absent.get_json()["lang"] is None


def test_key_host_routes_are_named_by_host(apps):
    flask_only, fast = apps
    get(flask_only, "/host", base_url="http://a.example")
    same = get(fast, "/host", base_url="http://A.example:80")
    assert not same.reached_flask and same.get_json()["host"] == "a.example"
    other = get(fast, "/host", base_url="http://b.example")
    assert other.reached_flask and other.get_json()["host"] == "b.example"


def test_names_agree_with_keys_cache_name(apps):
    """The entry the fast path reads is the one ``keys.cache_name`` names for the request."""
    flask_only, fast = apps
    get(flask_only, "/items/9?q=z&utm_medium=m")
    core = state_for(fast).core
    name = cache_name(endpoint="item", method="GET", view_args={"item_id": 9}, query=(("q", "z"),))
    found, _ = core.peek(name)
    assert found.outcome == "hit"
    assert not get(fast, "/items/9?q=z").reached_flask


# -- requests and routes the fast path leaves to Flask -----------------------------------------


@pytest.mark.parametrize(
    ("path", "kwargs", "detail"),
    [
        ("/items/1", {"headers": {"Cookie": "session=abc"}}, "session"),
        ("/items/1", {"headers": {"Authorization": "Bearer t"}}, "authorization"),
        ("/items/1", {"data": b"x=1", "content_type": "text/plain"}, "request-body"),
        ("/items/1", {"headers": {"Transfer-Encoding": "chunked"}, "data": b"x"}, "request-body"),
        ("/items/1?" + "a=" + "x" * MAX_QUERY_BYTES, {}, "query-too-large"),
        ("/items/1?" + "&".join(f"p{i}=1" for i in range(40)), {}, "query-too-large"),
    ],
)
def test_requests_the_cache_must_not_answer_go_to_flask(fast, path, kwargs, detail):
    get(fast, "/items/1")
    answer = get(fast, path, **kwargs)
    assert answer.reached_flask
    assert answer.headers["X-Cache"] == "BYPASS"
    assert answer.headers["Cache-Status"] == f"c; fwd=bypass; detail={detail}"


def test_a_cookie_named_like_the_session_cookie_anywhere_goes_to_flask(fast):
    get(fast, "/items/1")
    other = get(fast, "/items/1", headers={"Cookie": "theme=dark"})
    assert not other.reached_flask
    lookalike = get(fast, "/items/1", headers={"Cookie": "notsession=1"})
    assert lookalike.reached_flask  # Flask decides: a different cookie, so a HIT there
    assert lookalike.headers["X-Cache"] == "HIT"


def test_unsafe_methods_undeclared_and_no_cache_routes_go_to_flask(fast):
    for method, path in (("GET", "/plain"), ("GET", "/never"), ("POST", "/never")):
        for _ in range(2):
            before = entered(fast)
            answer = fast.test_client().open(path, method=method)
            assert entered(fast) == before + 1, (method, path)
        assert answer.headers["X-Cache"] == "BYPASS"


def test_user_scoped_routes_always_go_to_flask(fast):
    get(fast, "/mine", headers={"X-User": "7"})
    again = get(fast, "/mine", headers={"X-User": "7"})
    assert again.reached_flask and again.headers["X-Cache"] == "HIT"
    anonymous = get(fast, "/mine")
    assert anonymous.reached_flask and anonymous.headers["X-Cache"] == "BYPASS"


def test_unknown_paths_redirects_and_wrong_methods_go_to_flask(fast):
    get(fast, "/items/1")
    assert get(fast, "/nowhere").status_code == 404
    assert get(fast, "//items/1").reached_flask  # merged slashes: Flask redirects
    put = fast.test_client().put("/items/1")
    assert put.status_code == 405


def test_untrusted_hosts_go_to_flask(memory_core):
    app = build(memory_core, TRUSTED_HOSTS=["good.example"])
    get(app, "/items/1", base_url="http://good.example")
    assert not get(app, "/items/1", base_url="http://good.example").reached_flask
    bad = get(app, "/items/1", base_url="http://evil.example")
    assert bad.status_code == 400


def test_a_disabled_route_goes_to_flask_within_the_refresh_period(fast, clock):
    state = state_for(fast)
    get(fast, "/items/1")
    assert not get(fast, "/items/1").reached_flask
    state.toggles.store.save("item", RouteToggle(enabled=False))
    clock.advance(state.settings.toggle_refresh - 0.01)
    assert not get(fast, "/items/1").reached_flask  # the process has not looked yet
    clock.advance(0.01)
    disabled = get(fast, "/items/1")
    assert disabled.reached_flask
    assert disabled.headers["Cache-Status"] == "c; fwd=bypass; detail=disabled"
    state.toggles.store.save("item", RouteToggle(enabled=True))
    clock.advance(state.settings.toggle_refresh)
    assert not get(fast, "/items/1").reached_flask


def test_a_route_disabled_by_configuration_goes_to_flask(memory_core):
    app = build(memory_core, RESPONSE_CACHE_OVERRIDES={"item": {"enabled": False}})
    get(app, "/items/1")
    assert get(app, "/items/1").reached_flask


# -- stale entries --------------------------------------------------------------------------------


def test_a_stale_entry_is_served_below_flask_only_while_another_refreshes_it(fast, clock):
    get(fast, "/swr")
    clock.advance(15)  # stale, inside the 30 s stale-while-revalidate window
    core = state_for(fast).core
    epoch = core.trusted_epoch()
    assert epoch is not None
    name = cache_name(endpoint="swr", method="GET", view_args={}, query=())
    assert core.storage.acquire(epoch, name, "another-worker", 60_000)[0]
    stale = get(fast, "/swr")
    assert not stale.reached_flask
    assert stale.headers["X-Cache"] == "STALE"
    assert stale.headers["Cache-Status"] == "c; hit; ttl=-5; detail=stale-while-revalidate"
    assert counters(fast, "swr")["stale"] == 1
    core.storage.release(epoch, name, "another-worker")
    refreshed = get(fast, "/swr")  # nobody refreshes: Flask takes the lock and fills
    assert refreshed.reached_flask
    assert refreshed.headers["X-Cache"] == "MISS"
    assert refreshed.get_json()["call"] == 2


def test_an_expired_entry_goes_to_flask(fast, clock):
    get(fast, "/items/1")
    clock.advance(61)
    assert get(fast, "/items/1").reached_flask


# -- request hooks it would skip ----------------------------------------------------------------


def test_routes_with_a_hook_nobody_accounted_for_stay_on_the_flask_path(memory_core, caplog):
    app = build(memory_core)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    with caplog.at_level(logging.WARNING, logger="flask_response_cache"):
        get(app, "/items/1")
        logged_at_start = caplog.text.count("security_headers")
        hit = get(app, "/items/1")
        get(app, "/search")
    assert hit.reached_flask and hit.headers["X-Cache"] == "HIT"
    assert hit.headers["X-Content-Type-Options"] == "nosniff"
    # One line per public route, all at the first request; none per request afterwards.
    assert logged_at_start == caplog.text.count("security_headers") == 6
    assert "answered through Flask, after every request hook" in caplog.text


def test_blueprint_hooks_are_audited_per_route(memory_core):
    from flask import Blueprint

    app = build(memory_core)
    bp = Blueprint("shop", __name__)

    @bp.get("/shop/<int:n>")
    @cache_response(ttl=60, scope="public")
    def shop(n: int) -> dict[str, int]:
        return {"n": n}

    @bp.after_request
    def stamp(response: Response) -> Response:
        response.headers["X-Shop"] = "1"
        return response

    app.register_blueprint(bp)
    get(app, "/shop/1")
    hit = get(app, "/shop/1")
    assert hit.reached_flask and hit.headers["X-Shop"] == "1"
    get(app, "/items/1")
    assert not get(app, "/items/1").reached_flask  # routes outside the blueprint still are


def test_an_error_inside_the_fast_path_hands_the_request_to_flask(fast, caplog, monkeypatch):
    get(fast, "/items/1")

    def broken(*args: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(state_for(fast).fast_path, "_reply", broken)
    with caplog.at_level(logging.ERROR, logger="response_cache"):
        answer = get(fast, "/items/1")
    assert answer.status_code == 200
    assert answer.reached_flask and answer.headers["X-Cache"] == "HIT"
    assert "fast path failed" in caplog.text


def test_an_undecodable_entry_goes_to_flask(fast):
    get(fast, "/items/1")
    core = state_for(fast).core
    epoch = core.trusted_epoch()
    assert epoch is not None
    name = cache_name(endpoint="item", method="GET", view_args={"item_id": 1}, query=())
    garbage = Record.new(b"\x00\x01 not an HTTP entry", core.clock(), Freshness(60)).encode()
    assert core.storage.store(epoch, name, garbage, 60_000, [], 0) == "ok"
    answer = get(fast, "/items/1")
    assert answer.reached_flask and answer.status_code == 200


def test_a_rule_key_receives_the_matched_rule(memory_core):
    app = Flask("rules")
    app.config.update(TESTING=True)
    seen: list[Any] = []
    ResponseCache(app, core=memory_core, rule_environ_key="test.rule")

    @app.get("/r/<int:n>")
    @cache_response(ttl=60, scope="public")
    def r(n: int) -> dict[str, int]:
        return {"n": n}

    inner = app.wsgi_app

    def outer(environ: dict[str, Any], start_response: Any) -> Any:
        body = inner(environ, start_response)
        seen.append(environ.get("test.rule"))
        return body

    app.wsgi_app = outer  # type: ignore[method-assign]
    client = app.test_client()
    client.get("/r/1")
    client.get("/r/1")
    assert seen[0] is None  # the miss: Flask's own business
    assert seen[1] is not None and seen[1].rule == "/r/<int:n>"


def test_fake_clock_fixture_is_shared(clock, memory_core):
    assert isinstance(clock, FakeClock)
    assert memory_core.clock is clock
