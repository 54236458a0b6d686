"""CSRF for cookie-authenticated writes: JSON only, and cross-site requests refused."""

from __future__ import annotations

import pytest

POSTS = "/api/v1/posts"
BODY = {"title": "Hello", "body": "World"}


@pytest.fixture
def writer(actions):
    return actions.signed_in()


def post_count(client) -> int:
    return int(client.get(POSTS).get_json()["meta"]["total"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "Cross-Site", "Origin": "http://localhost"},  # the header wins
        {"Origin": "https://evil.example"},
        {"Origin": "http://localhost:8080"},  # same host, another port: another origin
        {"Origin": "null"},  # sandboxed frames, file: pages
        {"Origin": "http://[broken"},
    ],
)
def test_cross_site_writes_are_refused_before_anything_happens(writer, headers):
    response = writer.post(POSTS, json=BODY, headers=headers)
    assert response.status_code == 403
    assert response.get_json() == {
        "status": "error",
        "message": "Cross-site requests are not allowed.",
    }
    assert post_count(writer) == 0


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_every_state_changing_method_is_checked(writer, actions, method):
    post = actions.create_post(writer)
    response = writer.open(
        f"{POSTS}/{post['id']}", method=method, json={"title": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )  # fmt: skip
    assert response.status_code == 403
    assert writer.get(f"{POSTS}/{post['id']}").get_json()["title"] == "Hello"


def test_cross_site_logout_and_login_are_refused(writer):
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert writer.post("/api/v1/auth/logout", headers=cross).status_code == 403
    assert writer.get("/api/v1/auth/me").status_code == 200  # still logged in
    login = {"email": "ann@example.com", "password": "x"}
    assert writer.post("/api/v1/auth/login", json=login, headers=cross).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},  # scripts and curl send neither header
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://localhost"},
        {"Origin": "http://LOCALHOST:80"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"},
    ],
)
def test_same_origin_and_non_browser_writes_pass(writer, headers):
    assert writer.post(POSTS, json=BODY, headers=headers).status_code == 201


def test_origin_is_compared_with_the_host_the_request_was_sent_to(writer):
    same = writer.post(
        POSTS, json=BODY, headers={"Origin": "https://api.example.com"},
        base_url="https://api.example.com",
    )  # fmt: skip
    assert same.status_code == 401  # past the CSRF check (the cookie is localhost's)
    response = writer.post(
        POSTS, json=BODY, headers={"Origin": "https://api.example.com"},
        base_url="https://other.example.com",
    )  # fmt: skip
    assert response.status_code == 403


def test_reads_are_not_checked(writer):
    assert writer.get(POSTS, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("title=a&body=b", "application/x-www-form-urlencoded"),
        ('{"title": "a", "body": "b"}', "text/plain"),
        ("--x\r\n", "multipart/form-data; boundary=x"),
        ('{"title": "a", "body": "b"}', None),
    ],
)
def test_writes_must_be_json(writer, data, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = writer.post(POSTS, data=data, headers=headers)
    assert response.status_code == 415
    assert post_count(writer) == 0
