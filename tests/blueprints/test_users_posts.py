"""GET /api/v1/users/me/posts: the caller's own posts, drafts included, in the list envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

MINE = "/api/v1/users/me/posts"


def ids(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [post["id"] for post in response.get_json()["data"]]


@pytest.fixture
def ann(actions):
    return actions.signed_in("ann@example.com", "Ann")


@pytest.fixture
def bob(actions):
    return actions.signed_in("bob@example.com", "Bob")


def test_anonymous_is_401_with_the_error_body(client):
    response = client.get(MINE)

    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.get_json()["status"] == "error"


def test_lists_own_posts_and_drafts_but_not_other_users_posts(actions, ann, bob):
    published = actions.create_post(ann)
    draft = actions.create_post(ann, published=False)
    actions.create_post(bob)
    actions.create_post(bob, published=False)

    body = ann.get(MINE).get_json()

    assert {post["id"] for post in body["data"]} == {published["id"], draft["id"]}
    assert body["meta"] == {"total": 2, "page": 1, "limit": 20}
    assert {post["id"]: post for post in body["data"]}[draft["id"]] == draft


def test_uses_the_same_envelope_and_post_shape_as_the_public_list(actions, ann, client):
    post = actions.create_post(ann, tags=["x"])

    mine = ann.get(MINE).get_json()
    public = client.get("/api/v1/posts").get_json()

    assert set(mine) == set(public) == {"data", "meta"}
    assert mine["data"] == public["data"] == [post]


def test_newest_first_and_paginated(actions, ann, database):
    author_id = ann.get("/api/v1/auth/me").get_json()["id"]
    start = datetime(2024, 5, 1, tzinfo=UTC)
    oldest_first = database.insert_posts(author_id, 3, start=start) + database.insert_posts(
        author_id, 2, published=False, start=start + timedelta(days=1)
    )
    newest_first = list(reversed(oldest_first))

    assert ids(ann.get(f"{MINE}?limit=2")) == newest_first[:2]
    assert ids(ann.get(f"{MINE}?page=2&limit=2")) == newest_first[2:4]
    page3 = ann.get(f"{MINE}?page=3&limit=2").get_json()
    assert [post["id"] for post in page3["data"]] == newest_first[4:]
    assert page3["meta"] == {"total": 5, "page": 3, "limit": 2}
    beyond = ann.get(f"{MINE}?page=4&limit=2").get_json()
    assert beyond == {"data": [], "meta": {"total": 5, "page": 4, "limit": 2}}


def test_logged_out_caller_gets_401(actions, ann):
    actions.create_post(ann)
    ann.post("/api/v1/auth/logout")

    assert ann.get(MINE).status_code == 401


@pytest.mark.parametrize(
    "query", ["page=0", "page=abc", "page=1e99", "limit=0", "limit=101", "limit=x", "page=%00"]
)
def test_invalid_paging_is_422_never_500(ann, query):
    response = ann.get(f"{MINE}?{query}")

    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]["query"]


def test_anonymous_with_invalid_paging_is_still_401(client):
    assert client.get(f"{MINE}?page=0").status_code == 401


def test_is_never_stored_by_shared_caches(actions, ann):
    actions.create_post(ann, published=False)

    cache_control = ann.get(MINE).headers.get("Cache-Control", "")

    assert "private" in cache_control or "no-store" in cache_control
