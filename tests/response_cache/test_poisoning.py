"""Cache poisoning and deception: nothing a client sends can plant an entry for others."""

from __future__ import annotations

import pytest
from flask_response_cache import cache_response

from tests.conftest import Actions

POSTS = "/api/v1/posts"


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def posts(app):
    author = Actions(app).signed_in()
    return [Actions(app).create_post(author, title=f"Post {i}") for i in range(3)]


def anonymous(app):
    return app.test_client()


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-Host": "evil.example"},
        {"X-Forwarded-Proto": "gopher"},
        {"X-Original-URL": "/api/v1/auth/me"},
        {"X-Rewrite-URL": "/api/v1/auth/me"},
        {"X-HTTP-Method-Override": "DELETE"},
        {"Host": "evil.example"},
    ],
)
def test_unkeyed_headers_cannot_poison_an_entry(app, posts, header):
    client = anonymous(app)
    planted = client.get(POSTS, headers=header)
    assert planted.status_code == 200
    clean = client.get(POSTS)
    assert clean.headers["X-Cache"] == "HIT"
    assert clean.data == planted.data  # the header changed nothing, so sharing is harmless
    assert b"evil" not in clean.data and b"gopher" not in clean.data
    assert clean.get_json()["data"][0]["title"] == "Post 2"


def test_method_override_never_turns_a_write_into_a_cached_read(app, posts):
    client = anonymous(app)
    client.get(POSTS)
    answer = client.post(POSTS, headers={"X-HTTP-Method-Override": "GET"}, json={})
    assert answer.status_code == 401
    assert answer.headers["X-Cache"] == "BYPASS"
    assert "fwd=method" in answer.headers["Cache-Status"]


def test_a_get_with_a_body_bypasses_and_fills_nothing(app, posts):
    client = anonymous(app)
    fat = client.get(POSTS, data=b'{"page": 2, "limit": 1}', content_type="application/json")
    assert fat.headers["X-Cache"] == "BYPASS"
    assert fat.headers["Cache-Status"] == "posts-api; fwd=bypass; detail=request-body"
    assert client.get(POSTS).headers["X-Cache"] == "MISS"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/me.css",
        "/api/v1/auth/me/x.js",
        "/api/v1/posts/1.css",
        "/api/v1/posts.js",
        "/api/v1/users/me/posts/x.png",
        "/api/v1/posts/1/..%2f..%2fauth%2fme",
    ],
)
def test_cache_deception_paths_are_never_stored(app, posts, path):
    user = Actions(app)
    client = user.app.test_client()
    user.login(client)  # a logged-in victim follows the attacker's link
    client.get(path)
    for attacker in (anonymous(app), client):
        answer = attacker.get(path)
        assert answer.status_code == 404
        assert answer.headers["X-Cache"] == "BYPASS"
        assert "ann@example.com" not in answer.get_data(as_text=True)


def test_404_is_never_stored(app, posts):
    client = anonymous(app)
    for _ in range(2):
        answer = client.get(f"{POSTS}/999999")
        assert answer.status_code == 404
        assert answer.headers["X-Cache"] == "MISS"


def test_500_is_never_stored(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    calls = []

    @cache_response(ttl=60, scope="public")
    def broken():
        calls.append(1)
        raise RuntimeError("a bug")

    app.add_url_rule("/api/v1/test-broken", view_func=broken)
    client = app.test_client()
    for _ in range(2):
        answer = client.get("/api/v1/test-broken")
        assert answer.status_code == 500
        assert answer.headers["X-Cache"] == "MISS"
    assert len(calls) == 2


def test_parameter_cloaking_is_keyed_as_the_view_parses_it(app, posts):
    client = anonymous(app)
    cloaked = client.get(f"{POSTS}?limit=1&page=1;page=2")
    assert cloaked.status_code == 422  # one parameter "page" = "1;page=2": invalid, not stored
    first = client.get(f"{POSTS}?limit=1&page=1")
    assert first.headers["X-Cache"] == "MISS"
    assert first.get_json()["data"][0]["title"] == "Post 2"


def test_duplicate_parameters_resolve_to_the_first_value_like_the_view(app, posts):
    client = anonymous(app)
    duplicated = client.get(f"{POSTS}?limit=1&page=2&page=1")
    assert duplicated.get_json()["meta"]["page"] == 2  # what the view read
    page_two = client.get(f"{POSTS}?page=2&limit=1")
    assert page_two.headers["X-Cache"] == "HIT"
    assert page_two.get_json()["data"][0]["title"] == "Post 1"
    page_one = client.get(f"{POSTS}?page=1&limit=1")
    assert page_one.headers["X-Cache"] == "MISS"
    assert page_one.get_json()["data"][0]["title"] == "Post 2"


@pytest.mark.parametrize(
    "variant",
    [
        "limit=1&page=1",
        "page=1&limit=1&utm_source=mail&utm_campaign=x",
        "page=1&limit=1&gclid=z",
        "page=1&limit=1&fbclid=y",
        "page=1&limit=1&cachebuster=12345",
    ],
)
def test_equivalent_queries_share_one_entry(app, posts, variant):
    client = anonymous(app)
    client.get(f"{POSTS}?page=1&limit=1")
    answer = client.get(f"{POSTS}?{variant}")
    assert answer.headers["X-Cache"] == "HIT"


def test_oversized_queries_bypass(app, posts):
    client = anonymous(app)
    long = "&".join(f"x{i}=1" for i in range(40))
    for _ in range(2):
        assert (
            client.get(f"{POSTS}?{long}").headers["Cache-Status"].endswith("detail=query-too-large")
        )
