"""Refused requests (400/404/405/413/415/500): the one JSON error body, and nothing written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PASSWORD

ERROR_KEYS = {"status", "message", "errors"}
JSON = "application/json"
NEW_USER = {"email": "new@example.com", "name": "New", "password": PASSWORD}


def assert_error_body(response, status):
    """The one error shape: JSON, a human sentence, never HTML or a traceback."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) <= ERROR_KEYS
    assert body["status"] == "error"
    assert isinstance(body["message"], str) and len(body["message"]) > 3
    text = response.get_data(as_text=True)
    assert "<" not in text and "Traceback" not in text
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"]
    return body


@pytest.fixture
def author(actions):
    return actions.signed_in("ann@example.com", "Ann")


@pytest.fixture
def post_id(actions, author):
    return actions.create_post(author, tags=["a"])["id"]


def writes(post_id):
    """Every state-changing endpoint with a body it would accept."""
    return [
        ("POST", "/api/v1/auth/register", NEW_USER),
        ("POST", "/api/v1/auth/login", {"email": "ann@example.com", "password": PASSWORD}),
        ("POST", "/api/v1/auth/logout", {}),
        ("POST", "/api/v1/posts", {"title": "t", "body": "b"}),
        ("PATCH", f"/api/v1/posts/{post_id}", {"title": "changed"}),
        ("DELETE", f"/api/v1/posts/{post_id}", {}),
    ]


WRITE_NAMES = ["register", "login", "logout", "create", "update", "delete"]


def send(client, method, path, **kwargs):
    return client.open(path, method=method, **kwargs)


# --- 415 ---------------------------------------------------------------------------------------


def non_json_encodings(payload):
    return {
        "text/plain": {"data": json.dumps(payload), "content_type": "text/plain"},
        "form": {"data": payload},
        "multipart": {"data": payload, "content_type": "multipart/form-data"},
        "no content type": {"data": json.dumps(payload).encode()},
        "application/xml": {"data": "<x/>", "content_type": "application/xml"},
    }


@pytest.mark.parametrize("index", range(6), ids=WRITE_NAMES)
def test_non_json_write_is_415_and_writes_nothing(author, post_id, database, index):
    method, path, payload = writes(post_id)[index]
    before = database.snapshot()

    for encoding, kwargs in non_json_encodings(payload or {"x": "y"}).items():
        response = send(author, method, path, **kwargs)
        assert response.status_code == 415, encoding
        assert_error_body(response, 415)

    assert database.snapshot() == before
    assert author.get("/api/v1/auth/me").status_code == 200


def test_json_with_a_charset_is_accepted(author):
    response = author.post(
        "/api/v1/posts",
        data=json.dumps({"title": "t", "body": "b"}),
        content_type="application/json; charset=utf-8",
    )

    assert response.status_code == 201


def test_bodyless_writes_need_no_content_type(actions, author):
    post = actions.create_post(author)

    assert author.delete(f"/api/v1/posts/{post['id']}").status_code == 204
    assert author.post("/api/v1/auth/logout").status_code == 204


# --- 400 ---------------------------------------------------------------------------------------


MALFORMED = [
    '{"title": "t", "body": ',
    "{'title': 't'}",
    '{"a": 1} trailing',
    "\xff",
    "nul\x00",
    '{"title": "\\ud800", "body": "lone surrogate"}',
    '{"title": "t", "body": "b", "published": NaN}',
]


@pytest.mark.parametrize("index", range(6), ids=WRITE_NAMES)
def test_malformed_json_is_400_and_writes_nothing(author, post_id, database, index):
    method, path, _ = writes(post_id)[index]
    before = database.snapshot()

    for raw in MALFORMED:
        response = send(author, method, path, data=raw.encode("latin-1"), content_type=JSON)
        assert response.status_code == 400, raw
        assert "JSON" in assert_error_body(response, 400)["message"]

    assert database.snapshot() == before
    assert author.get("/api/v1/auth/me").status_code == 200


# --- 413 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(6), ids=WRITE_NAMES)
def test_body_over_a_small_limit_is_413_and_writes_nothing(make_app, database_for, index):
    from tests.conftest import Actions

    app = make_app(MAX_CONTENT_LENGTH=200)
    actions = Actions(app)
    author = actions.signed_in()
    post_id = actions.create_post(author)["id"]
    method, path, payload = writes(post_id)[index]
    oversized = {**payload, "padding": "x" * 300}
    database = database_for(app)
    before = database.snapshot()

    assert_error_body(send(author, method, path, json=oversized), 413)

    assert database.snapshot() == before
    assert author.get("/api/v1/auth/me").status_code == 200


def test_default_limit_is_one_mebibyte(client, database):
    limit = 1024 * 1024
    prefix = json.dumps(NEW_USER)[:-1] + ', "padding": "'
    exactly = (prefix + "x" * (limit - len(prefix) - 2) + '"}').encode()
    assert len(exactly) == limit
    one_more = exactly[:-2] + b'x"}'

    assert_error_body(
        client.post("/api/v1/auth/register", data=one_more, content_type="application/json"), 413
    )
    assert database.count("users") == 0
    at_limit = client.post("/api/v1/auth/register", data=exactly, content_type="application/json")
    assert at_limit.status_code == 201


# --- 404 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/nope"),
        ("GET", "/api/v1/nope"),
        ("GET", "/api/v2/posts"),
        ("GET", "/api/v1/posts/1/comments"),
        ("POST", "/api/v1/nope"),
        ("DELETE", "/api/v1/users/1"),
    ],
)
def test_unknown_path_is_404_in_json(author, database, method, path):
    before = database.snapshot()

    assert_error_body(send(author, method, path, json={"title": "t"}), 404)
    assert database.snapshot() == before


def test_unknown_path_is_404_even_with_a_non_json_body(client):
    assert_error_body(client.post("/nope", data="x", content_type="text/plain"), 404)


def test_unknown_path_is_json_even_when_html_is_asked_for(client):
    response = client.get("/nope", headers={"Accept": "text/html"})

    assert_error_body(response, 404)


# --- 405 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/api/v1/posts", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("DELETE", "/api/v1/posts", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("POST", "/api/v1/posts/{id}", {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
        ("PUT", "/api/v1/posts/{id}", {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
        ("POST", "/api/v1/health", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/api/v1/auth/register", {"POST", "OPTIONS"}),
        ("GET", "/api/v1/auth/login", {"POST", "OPTIONS"}),
        ("GET", "/api/v1/auth/logout", {"POST", "OPTIONS"}),
        ("POST", "/api/v1/auth/me", {"GET", "HEAD", "OPTIONS"}),
        ("DELETE", "/api/v1/users/me/posts", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/openapi.json", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_with_allow_and_writes_nothing(
    author, post_id, database, method, path, allowed
):
    before = database.snapshot()

    for body in ({"json": {"title": "changed"}}, {"data": "x", "content_type": "text/plain"}):
        response = send(author, method, path.format(id=post_id), **body)
        assert response.status_code == 405, body
        assert_error_body(response, 405)
        assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed

    assert database.snapshot() == before


# --- 500 and the shape of every status ---------------------------------------------------------


def test_unexpected_exception_is_a_bare_json_500(make_app):
    app = make_app(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    response = app.test_client().get("/api/v1/boom")

    body = assert_error_body(response, 500)
    assert body == {"status": "error", "message": "Internal server error."}
    assert "secret" not in response.get_data(as_text=True)


def test_rate_limited_request_is_a_json_429_with_retry_after(make_app):
    client = make_app(RATELIMIT_API="1 per minute").test_client()
    client.get("/api/v1/posts")

    response = client.get("/api/v1/posts")

    assert_error_body(response, 429)
    assert int(response.headers["Retry-After"]) > 0


def test_every_error_status_uses_the_one_shape(actions, author, post_id, client):
    other = actions.signed_in("bob@example.com", "Bob")
    cases = [
        (400, author.post("/api/v1/posts", data="{", content_type="application/json")),
        (401, client.get("/api/v1/auth/me")),
        (403, other.delete(f"/api/v1/posts/{post_id}")),
        (404, client.get("/api/v1/posts/999")),
        (405, client.put("/api/v1/posts")),
        (409, client.post("/api/v1/auth/register", json={**NEW_USER, "email": "ann@example.com"})),
        (413, client.post("/api/v1/auth/register", data="x" * 2**21, content_type=JSON)),
        (415, author.post("/api/v1/posts", data="x", content_type="text/plain")),
        (422, author.post("/api/v1/posts", json={})),
    ]
    for status, response in cases:
        assert_error_body(response, status)
        assert "no-store" in response.headers.get("Cache-Control", "")


def test_validation_errors_name_each_bad_field(author):
    body = assert_error_body(
        author.post("/api/v1/posts", json={"title": "", "tags": ["ok", ""]}), 422
    )

    assert set(body["errors"]["json"]) == {"title", "body", "tags"}
    assert body["errors"]["json"]["tags"] == {"1": ["Length must be between 1 and 50."]}
