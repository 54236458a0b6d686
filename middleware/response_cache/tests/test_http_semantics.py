# mypy: allow-untyped-defs, allow-incomplete-defs
"""HTTP semantics of cached answers: headers, replay, HEAD, ETag/304, gzip."""

from __future__ import annotations

import gzip

import pytest
from flask import Response, request, url_for
from flask_response_cache import cache_response, no_cache
from frc_helpers import counters


@pytest.fixture
def app(standalone):
    app = standalone(RESPONSE_CACHE_IDENTIFIER="test-cache")
    app.calls = 0

    @app.get("/items/<int:item_id>")
    @cache_response(ttl=60, tags=["items", "item:{item_id}"], query=["q"], scope="public")
    def item(item_id):
        app.calls += 1
        return {"id": item_id, "q": request.args.get("q"), "call": app.calls}

    @app.get("/report")
    @cache_response(ttl=60, scope="public")
    def report():
        app.calls += 1
        body = "id,value\n" + "".join(f"{i},{i * i}\n" for i in range(400))
        headers = {"X-Report": "squares", "X-Request-ID": f"req-{app.calls}", "Link": "</next>"}
        return Response(body, status=200, mimetype="text/csv", headers=headers)

    @app.get("/status/<int:code>")
    @cache_response(ttl=60, scope="public")
    def status(code):
        app.calls += 1
        return {"call": app.calls}, code

    @app.get("/directive")
    @cache_response(ttl=60, scope="public")
    def directive():
        app.calls += 1
        extra = dict(pair.split(":", 1) for pair in request.args.getlist("h"))
        return {"call": app.calls}, 200, extra

    @app.get("/stable")
    @cache_response(ttl=60, tags=["stable"], scope="public")
    def stable():
        app.calls += 1
        return {"same": "every time"}

    @app.get("/plain")
    def undeclared():
        return {"ok": True}

    @app.route("/never", methods=["GET", "POST"])
    @no_cache
    def never():
        return {"ok": True}

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def test_first_get_is_a_stored_miss_then_hits_replay_it(app, client):
    first = client.get("/items/1?q=a")
    assert first.status_code == 200
    assert first.headers["X-Cache"] == "MISS"
    assert first.headers["Cache-Status"] == "test-cache; fwd=uri-miss; stored"
    second = client.get("/items/1?q=a")
    assert second.headers["X-Cache"] == "HIT"
    assert second.headers["Cache-Status"] == "test-cache; hit; ttl=60"
    assert second.get_json() == first.get_json() == {"id": 1, "q": "a", "call": 1}
    assert second.content_type == first.content_type == "application/json"
    assert app.calls == 1


def test_hits_carry_age_remaining_max_age_vary_and_the_stored_etag(client, clock):
    miss = client.get("/items/1")
    assert miss.headers["Cache-Control"] == "public, max-age=60"
    assert miss.headers["Vary"] == "Accept-Encoding, Cookie, Authorization"
    clock.advance(25)
    hit = client.get("/items/1")
    assert hit.headers["Age"] == "25"
    assert hit.headers["Cache-Control"] == "public, max-age=35"
    assert hit.headers["Cache-Status"] == "test-cache; hit; ttl=35"
    assert hit.headers["ETag"] == miss.headers["ETag"]
    assert hit.headers["ETag"].startswith('"') and not hit.headers["ETag"].startswith("W/")
    assert hit.headers["Vary"] == miss.headers["Vary"]


def test_an_expired_entry_is_refilled(app, client, clock):
    client.get("/items/1")
    clock.advance(60)
    again = client.get("/items/1")
    assert again.headers["X-Cache"] == "MISS"
    assert again.get_json()["call"] == 2


def test_status_content_type_and_headers_are_replayed_exactly(app, client):
    miss = client.get("/report")
    hit = client.get("/report")
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.status_code == 200
    assert hit.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert hit.headers["X-Report"] == "squares"
    assert hit.headers["Link"] == "</next>"
    assert hit.data == miss.data
    assert "X-Request-ID" not in hit.headers  # per-client, never replayed
    assert int(hit.headers["Content-Length"]) == len(hit.data)


def test_head_is_answered_from_the_get_entry(app, client):
    get = client.get("/items/2")
    head = client.head("/items/2")
    assert head.headers["X-Cache"] == "HIT"
    assert head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]
    assert app.calls == 1


def test_a_head_can_fill_the_get_entry(app, client):
    head = client.head("/items/3")
    assert head.headers["X-Cache"] == "MISS" and head.data == b""
    get = client.get("/items/3")
    assert get.headers["X-Cache"] == "HIT"
    assert get.get_json()["id"] == 3
    assert app.calls == 1


def test_if_none_match_is_answered_304_on_a_hit(client):
    etag = client.get("/items/4").headers["ETag"]
    answer = client.get("/items/4", headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.data == b""
    assert answer.headers["ETag"] == etag
    assert answer.headers["Cache-Control"].startswith("public, max-age=")
    assert answer.headers["Vary"] == "Accept-Encoding, Cookie, Authorization"
    assert answer.headers["X-Cache"] == "HIT"
    weak = client.get("/items/4", headers={"If-None-Match": f'"nope", W/{etag}'})
    assert weak.status_code == 304


def test_if_none_match_is_answered_304_on_a_miss_and_the_entry_is_stored(app, client):
    etag = client.get("/stable").headers["ETag"]
    app.extensions["response_cache"].core.apply(["stable"])
    answer = client.get("/stable", headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.headers["X-Cache"] == "MISS"
    assert answer.headers["ETag"] == etag
    assert answer.data == b""
    full = client.get("/stable")
    assert full.status_code == 200 and full.headers["X-Cache"] == "HIT"
    assert full.get_json() == {"same": "every time"}
    assert app.calls == 2


def test_a_different_etag_gets_the_full_answer(client):
    client.get("/items/6")
    answer = client.get("/items/6", headers={"If-None-Match": '"something-else"'})
    assert answer.status_code == 200 and answer.get_json()["id"] == 6


def test_large_bodies_go_gzipped_to_clients_that_accept_gzip(client):
    plain = client.get("/report")
    zipped = client.get("/report", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["X-Cache"] == "HIT"
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)
    unzipped = client.get("/report", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in unzipped.headers
    assert unzipped.data == plain.data


@pytest.mark.parametrize("code", [201, 203, 204, 400, 404, 410, 500, 503])
def test_non_200_answers_are_never_stored(app, client, code):
    for _ in range(2):
        answer = client.get(f"/status/{code}")
        assert answer.headers["X-Cache"] == "MISS"
        assert f"fwd-status={code}; detail=status" in answer.headers["Cache-Status"]
    assert app.calls == 2


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Set-Cookie:theme=dark", "set-cookie"),
        ("Cache-Control:no-store", "cache-control"),
        ("Cache-Control:private", "cache-control"),
        ("Cache-Control:no-cache", "cache-control"),
        ("Cache-Control:max-age=0", "cache-control"),
        ("Vary:*", "vary"),
        ("Vary:Accept-Language", "vary"),
    ],
)
def test_responses_the_view_marks_uncacheable_are_never_stored(app, client, header, detail):
    for _ in range(2):
        answer = client.get("/directive", query_string={"h": header})
        assert answer.headers["X-Cache"] == "MISS"
        assert answer.headers["Cache-Status"].endswith(f"detail={detail}")
    assert app.calls == 2


def test_undeclared_and_no_cache_routes_bypass_with_a_reason(client):
    plain = client.get("/plain")
    assert plain.headers["X-Cache"] == "BYPASS"
    assert plain.headers["Cache-Status"] == "test-cache; fwd=bypass; detail=not-declared"
    never = client.get("/never")
    assert never.headers["Cache-Status"] == "test-cache; fwd=bypass; detail=no-cache"
    post = client.post("/never")
    assert post.headers["Cache-Status"] == "test-cache; fwd=method; detail=no-cache"
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.headers["X-Cache"] == "BYPASS"


def test_credentialed_requests_bypass_and_are_marked_private(app, client):
    client.get("/items/7")
    answer = client.get("/items/7", headers={"Authorization": "Bearer x"})
    assert answer.headers["X-Cache"] == "BYPASS"
    assert answer.headers["Cache-Status"] == "test-cache; fwd=bypass; detail=authorization"
    assert answer.headers["Cache-Control"] == "private"
    assert answer.get_json()["call"] == 2
    client.set_cookie("session", "abc")
    with_cookie = client.get("/items/7")
    assert with_cookie.headers["Cache-Status"] == "test-cache; fwd=bypass; detail=session"


def test_oversized_queries_bypass_instead_of_minting_names(app, client):
    answer = client.get("/items/8?" + "&".join(f"p{i}=1" for i in range(40)))
    assert answer.headers["Cache-Status"].endswith("detail=query-too-large")
    answer = client.get("/items/8?q=" + "x" * 3000)
    assert answer.headers["Cache-Status"].endswith("detail=query-too-large")


def test_counters_per_endpoint(app, client):
    client.get("/items/9")
    client.get("/items/9")
    client.get("/items/9", headers={"Authorization": "Bearer x"})
    assert counters(app, "item") == {
        "hit": 1,
        "miss": 1,
        "stale": 0,
        "bypass": 1,
        "store": 1,
        "error": 0,
    }


def test_tag_invalidation_makes_the_next_request_a_miss(app, client):
    client.get("/items/10")
    client.get("/items/11")
    app.extensions["response_cache"].core.apply(["item:10"])
    assert client.get("/items/10").headers["X-Cache"] == "MISS"
    assert client.get("/items/11").headers["X-Cache"] == "HIT"


def test_a_route_that_reflects_the_host_keys_on_it(standalone):
    app = standalone()

    @app.get("/self")
    @cache_response(ttl=60, key_host=True, scope="public")
    def self_link():
        return {"self": url_for("self_link", _external=True), "host": request.host}

    client = app.test_client()
    good = client.get("/self", headers={"Host": "api.example"})
    evil = client.get("/self", headers={"Host": "evil.example"})
    again = client.get("/self", headers={"Host": "api.example"})
    assert evil.get_json()["host"] == "evil.example"
    assert again.headers["X-Cache"] == "HIT"
    assert (
        again.get_json()
        == good.get_json()
        == {
            "self": "http://api.example/self",
            "host": "api.example",
        }
    )
