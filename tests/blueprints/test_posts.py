"""The /api/v1/posts contract: list, read, create, update, delete, and the post's exact shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

POSTS = "/api/v1/posts"
POST_KEYS = {"id", "title", "body", "published", "created_at", "updated_at", "author", "tags"}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def ids(response):
    return [post["id"] for post in response.get_json()["data"]]


def assert_error(response, status, message=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "error"
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message
    return body


@pytest.fixture
def ann(actions):
    """A signed-in client whose user is the author of the posts under test."""
    return actions.signed_in("ann@example.com", "Ann")


@pytest.fixture
def bob(actions):
    return actions.signed_in("bob@example.com", "Bob")


def user_id(client):
    return client.get("/api/v1/auth/me").get_json()["id"]


# --- shape -------------------------------------------------------------------------------------


def test_post_has_exactly_the_contract_fields(actions, ann):
    post = actions.create_post(ann, title="Title", body="Body text", tags=["python", "flask"])

    assert set(post) == POST_KEYS
    assert isinstance(post["id"], int)
    assert post["title"] == "Title"
    assert post["body"] == "Body text"
    assert post["published"] is True
    assert post["author"] == {"id": user_id(ann), "name": "Ann"}
    assert [tag["name"] for tag in post["tags"]] == ["python", "flask"]
    assert all(set(tag) == {"id", "name"} and isinstance(tag["id"], int) for tag in post["tags"])


def test_datetimes_are_iso_8601_utc_ending_in_z(actions, ann):
    before = datetime.now(UTC)
    post = actions.create_post(ann)
    after = datetime.now(UTC)

    for field in ("created_at", "updated_at"):
        assert ISO_UTC.match(post[field]), post[field]
        moment = datetime.fromisoformat(post[field])
        assert moment.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1)
    assert post["created_at"] == post["updated_at"]


def test_list_items_have_the_same_shape_as_a_single_post(actions, ann, client):
    created = actions.create_post(ann, tags=["x"])

    listed = client.get(POSTS).get_json()["data"][0]
    single = client.get(f"{POSTS}/{created['id']}").get_json()

    assert listed == single == created


# --- list --------------------------------------------------------------------------------------


def test_list_envelope_has_data_and_meta(client):
    response = client.get(POSTS)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"data": [], "meta": {"total": 0, "page": 1, "limit": 20}}


def test_list_shows_published_posts_only(actions, ann, client):
    published = actions.create_post(ann, title="public")
    actions.create_post(ann, title="draft", published=False)

    body = client.get(POSTS).get_json()

    assert [post["id"] for post in body["data"]] == [published["id"]]
    assert body["meta"]["total"] == 1


def test_list_is_newest_first_then_highest_id_first(actions, ann, client, database):
    first, second, third, fourth = (actions.create_post(ann)["id"] for _ in range(4))
    database.set_times(first, T0)
    database.set_times(second, T0 + timedelta(hours=1))
    database.set_times(third, T0)  # same instant as `first`: the higher id comes first
    database.set_times(fourth, T0 - timedelta(hours=1))

    assert ids(client.get(POSTS)) == [second, third, first, fourth]


def test_limit_defaults_to_20(ann, client, database):
    database.insert_posts(user_id(ann), 25)

    body = client.get(POSTS).get_json()

    assert len(body["data"]) == 20
    assert body["meta"] == {"total": 25, "page": 1, "limit": 20}


def test_limit_accepts_1_and_100(ann, client, database):
    database.insert_posts(user_id(ann), 101)

    assert len(client.get(f"{POSTS}?limit=1").get_json()["data"]) == 1
    assert len(client.get(f"{POSTS}?limit=100").get_json()["data"]) == 100


def test_pages_walk_the_list_without_overlap(ann, client, database):
    oldest_first = database.insert_posts(user_id(ann), 5)
    newest_first = list(reversed(oldest_first))

    pages = [client.get(f"{POSTS}?page={page}&limit=2").get_json() for page in (1, 2, 3)]

    assert [[post["id"] for post in page["data"]] for page in pages] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:5],
    ]
    assert [page["meta"] for page in pages] == [
        {"total": 5, "page": page, "limit": 2} for page in (1, 2, 3)
    ]


def test_page_beyond_the_end_is_empty_with_the_right_total(ann, client, database):
    database.insert_posts(user_id(ann), 3)

    response = client.get(f"{POSTS}?page=99&limit=2")

    assert response.status_code == 200
    assert response.get_json() == {"data": [], "meta": {"total": 3, "page": 99, "limit": 2}}


def test_list_filters_by_author(actions, ann, bob, client):
    mine = actions.create_post(ann)
    actions.create_post(bob)
    actions.create_post(ann, published=False)

    body = client.get(f"{POSTS}?author_id={user_id(ann)}").get_json()

    assert [post["id"] for post in body["data"]] == [mine["id"]]
    assert body["meta"]["total"] == 1


def test_list_filters_by_tag(actions, ann, bob, client):
    tagged = actions.create_post(ann, tags=["python", "web"])
    also_tagged = actions.create_post(bob, tags=["python"])
    actions.create_post(ann, tags=["web"])
    actions.create_post(ann, tags=["python"], published=False)

    body = client.get(f"{POSTS}?tag=python").get_json()

    assert [post["id"] for post in body["data"]] == [also_tagged["id"], tagged["id"]]
    assert body["meta"]["total"] == 2


def test_list_combines_author_and_tag_filters(actions, ann, bob, client):
    wanted = actions.create_post(ann, tags=["python"])
    actions.create_post(bob, tags=["python"])
    actions.create_post(ann, tags=["web"])

    assert ids(client.get(f"{POSTS}?tag=python&author_id={user_id(ann)}")) == [wanted["id"]]


def test_unknown_tag_or_author_gives_an_empty_page(actions, ann, client):
    actions.create_post(ann, tags=["python"])

    for query in ("tag=nope", "author_id=2147483647"):
        response = client.get(f"{POSTS}?{query}")
        assert response.status_code == 200
        assert response.get_json() == {"data": [], "meta": {"total": 0, "page": 1, "limit": 20}}


def test_unknown_query_parameters_are_ignored(actions, ann, client):
    post = actions.create_post(ann)

    assert ids(client.get(f"{POSTS}?utm_source=mail&_=123")) == [post["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1e99",
        "page=1.5",
        "page=",
        "page=100000000000000000000",
        "page=" + "9" * 5000,
        "page=%00",
        "page=1_0",
        "page=%EF%BC%91",  # a full-width digit one
        "limit=0",
        "limit=101",
        "limit=-5",
        "limit=abc",
        "limit=",
        "author_id=abc",
        "author_id=0",
        "author_id=99999999999999999999",
        "tag=",
        "tag=" + "t" * 51,
        "tag=%00",
        "tag=py%00thon",
    ],
)
def test_invalid_list_parameters_are_422_never_500(client, query):
    body = assert_error(client.get(f"{POSTS}?{query}"), 422)

    field = query.split("=", 1)[0]
    assert field in body["errors"]["query"]


@pytest.mark.parametrize(
    "query", ["page=1&page=2", "limit=5&limit=500", "author_id=1&author_id=x", "tag=a&tag=b"]
)
def test_duplicated_parameters_never_500(actions, ann, client, query):
    actions.create_post(ann, tags=["a"])

    response = client.get(f"{POSTS}?{query}")

    assert response.status_code < 500
    assert response.mimetype == "application/json"
    if response.status_code == 200:
        assert set(response.get_json()) == {"data", "meta"}
    else:
        assert response.get_json()["status"] == "error"


# --- read one ----------------------------------------------------------------------------------


def test_published_post_is_visible_to_anyone(actions, ann, client):
    post = actions.create_post(ann)

    response = client.get(f"{POSTS}/{post['id']}")

    assert response.status_code == 200
    assert response.get_json() == post


def test_missing_post_is_404_post_not_found(client):
    assert_error(client.get(f"{POSTS}/12345"), 404, "Post not found")


def test_draft_is_visible_to_its_author(actions, ann):
    draft = actions.create_post(ann, published=False)

    response = ann.get(f"{POSTS}/{draft['id']}")

    assert response.status_code == 200
    assert response.get_json()["published"] is False


def test_draft_is_hidden_from_other_users(actions, ann, bob):
    draft = actions.create_post(ann, published=False)

    assert_error(bob.get(f"{POSTS}/{draft['id']}"), 404, "Post not found")


def test_draft_is_hidden_from_anonymous_visitors(actions, ann, client):
    draft = actions.create_post(ann, published=False)

    assert_error(client.get(f"{POSTS}/{draft['id']}"), 404, "Post not found")


@pytest.mark.parametrize(
    "path", ["99999999999999999999", "2147483648", "abc", "%00", "-1", "1.5", "0x1", "1%20"]
)
def test_malformed_or_huge_post_ids_are_404_not_500(client, path):
    assert_error(client.get(f"{POSTS}/{path}"), 404)


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_and_a_location_that_serves_the_post(ann):
    response = ann.post(POSTS, json={"title": "New", "body": "Text"})

    assert response.status_code == 201
    post = response.get_json()
    assert response.headers["Location"].endswith(f"{POSTS}/{post['id']}")
    followed = ann.get(response.headers["Location"])
    assert followed.status_code == 200
    assert followed.get_json() == post


def test_create_defaults_to_published_without_tags(ann, client):
    post = ann.post(POSTS, json={"title": "New", "body": "Text"}).get_json()

    assert post["published"] is True
    assert post["tags"] == []
    assert client.get(f"{POSTS}/{post['id']}").status_code == 200


def test_create_can_make_a_draft(actions, ann, client):
    draft = actions.create_post(ann, published=False)

    assert draft["published"] is False
    assert client.get(POSTS).get_json()["meta"]["total"] == 0


def test_create_deduplicates_tags_and_reuses_existing_ones(actions, ann, bob):
    first = actions.create_post(ann, tags=["python", " python ", "web"])
    second = actions.create_post(bob, tags=["web", "python"])

    assert [tag["name"] for tag in first["tags"]] == ["python", "web"]
    by_name = {tag["name"]: tag["id"] for tag in first["tags"]}
    assert {tag["name"]: tag["id"] for tag in second["tags"]} == by_name


def test_anonymous_create_is_401_and_writes_nothing(client, database):
    before = database.snapshot()

    assert_error(client.post(POSTS, json={"title": "t", "body": "b"}), 401)
    assert_error(client.post(POSTS, json={}), 401)
    assert database.snapshot() == before


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"body": "b"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "", "body": "b"}, "title"),
        ({"title": "   ", "body": "b"}, "title"),
        ({"title": "t" * 201, "body": "b"}, "title"),
        ({"title": "t", "body": ""}, "body"),
        ({"title": 5, "body": "b"}, "title"),
        ({"title": None, "body": "b"}, "title"),
        ({"title": "t\u0000", "body": "b"}, "title"),
        ({"title": "t", "body": "b\u0000"}, "body"),
        ({"title": "t", "body": "b", "published": "maybe"}, "published"),
        ({"title": "t", "body": "b", "published": None}, "published"),
        ({"title": "t", "body": "b", "tags": "python"}, "tags"),
        ({"title": "t", "body": "b", "tags": None}, "tags"),
        ({"title": "t", "body": "b", "tags": [1]}, "tags"),
        ({"title": "t", "body": "b", "tags": [""]}, "tags"),
        ({"title": "t", "body": "b", "tags": ["  "]}, "tags"),
        ({"title": "t", "body": "b", "tags": ["x" * 51]}, "tags"),
        ({"title": "t", "body": "b", "tags": ["a\u0000"]}, "tags"),
        ({"title": "t", "body": "b", "tags": [f"t{i}" for i in range(21)]}, "tags"),
    ],
)
def test_invalid_create_is_422_and_writes_nothing(ann, database, payload, field):
    before = database.snapshot()

    body = assert_error(ann.post(POSTS, json=payload), 422)

    assert field in body["errors"]["json"]
    assert database.snapshot() == before


@pytest.mark.parametrize("payload", [[], "text", 42])
def test_create_with_a_non_object_body_is_422(ann, database, payload):
    before = database.snapshot()

    assert_error(ann.post(POSTS, json=payload), 422)
    assert database.snapshot() == before


def test_create_accepts_boundary_lengths(actions, ann):
    post = actions.create_post(ann, title="t" * 200, tags=["x" * 50] + [f"t{i}" for i in range(19)])

    assert len(post["title"]) == 200
    assert len(post["tags"]) == 20


# --- update ------------------------------------------------------------------------------------


def test_author_updates_fields_and_updated_at_moves(actions, ann, database):
    post = actions.create_post(ann, title="Old", tags=["a"])
    database.set_times(post["id"], T0)

    response = ann.patch(f"{POSTS}/{post['id']}", json={"title": "New", "body": "Changed"})

    assert response.status_code == 200
    updated = response.get_json()
    assert (updated["title"], updated["body"]) == ("New", "Changed")
    assert updated["created_at"] == "2024-03-01T12:00:00Z"
    assert datetime.fromisoformat(updated["updated_at"]) > T0
    assert [tag["name"] for tag in updated["tags"]] == ["a"]  # untouched when not given
    assert ann.get(f"{POSTS}/{post['id']}").get_json() == updated


def test_update_replaces_tags(actions, ann):
    post = actions.create_post(ann, tags=["a", "b"])

    updated = ann.patch(f"{POSTS}/{post['id']}", json={"tags": ["c", "a"]}).get_json()

    assert {tag["name"] for tag in updated["tags"]} == {"a", "c"}
    cleared = ann.patch(f"{POSTS}/{post['id']}", json={"tags": []}).get_json()
    assert cleared["tags"] == []


def test_unpublishing_hides_the_post_from_others(actions, ann, client):
    post = actions.create_post(ann)

    assert ann.patch(f"{POSTS}/{post['id']}", json={"published": False}).status_code == 200

    assert_error(client.get(f"{POSTS}/{post['id']}"), 404, "Post not found")
    assert client.get(POSTS).get_json()["meta"]["total"] == 0


def test_another_user_cannot_update_and_nothing_changes(actions, ann, bob, database):
    post = actions.create_post(ann)
    before = database.snapshot()

    assert_error(bob.patch(f"{POSTS}/{post['id']}", json={"title": "Mine now"}), 403)
    assert database.snapshot() == before


def test_another_users_draft_is_404_on_update(actions, ann, bob):
    draft = actions.create_post(ann, published=False)

    assert_error(bob.patch(f"{POSTS}/{draft['id']}", json={"title": "x"}), 404, "Post not found")


def test_update_of_a_missing_post_is_404(ann):
    assert_error(ann.patch(f"{POSTS}/999", json={"title": "x"}), 404, "Post not found")


def test_anonymous_update_is_401(actions, ann, client, database):
    post = actions.create_post(ann)
    before = database.snapshot()

    assert_error(client.patch(f"{POSTS}/{post['id']}", json={"title": "x"}), 401)
    assert_error(client.patch(f"{POSTS}/{post['id']}", json={}), 401)
    assert database.snapshot() == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"unknown": 1},
        {"title": ""},
        {"title": None},
        {"title": "t" * 201},
        {"body": ""},
        {"published": "sometimes"},
        {"tags": "a"},
        {"tags": [""]},
    ],
)
def test_invalid_update_is_422_and_changes_nothing(actions, ann, database, payload):
    post = actions.create_post(ann)
    before = database.snapshot()

    assert_error(ann.patch(f"{POSTS}/{post['id']}", json=payload), 422)
    assert database.snapshot() == before


def test_update_without_a_body_is_422(actions, ann, database):
    post = actions.create_post(ann)
    before = database.snapshot()

    assert_error(ann.patch(f"{POSTS}/{post['id']}"), 422)
    assert database.snapshot() == before


# --- delete ------------------------------------------------------------------------------------


def test_author_deletes_and_the_post_is_gone(actions, ann, client):
    post = actions.create_post(ann, tags=["a", "b", "c"])

    response = ann.delete(f"{POSTS}/{post['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(client.get(f"{POSTS}/{post['id']}"), 404, "Post not found")
    assert_error(ann.delete(f"{POSTS}/{post['id']}"), 404, "Post not found")
    assert client.get(POSTS).get_json()["meta"]["total"] == 0


def test_delete_removes_the_post_tag_links_but_keeps_the_tags(actions, ann, database):
    post = actions.create_post(ann, tags=["a", "b"])

    assert ann.delete(f"{POSTS}/{post['id']}").status_code == 204

    assert database.count("post_tags") == 0
    assert database.count("tags") == 2


def test_another_user_cannot_delete(actions, ann, bob, client, database):
    post = actions.create_post(ann)
    before = database.snapshot()

    assert_error(bob.delete(f"{POSTS}/{post['id']}"), 403)
    assert database.snapshot() == before
    assert client.get(f"{POSTS}/{post['id']}").status_code == 200


def test_anonymous_delete_is_401(actions, ann, client, database):
    post = actions.create_post(ann)
    before = database.snapshot()

    assert_error(client.delete(f"{POSTS}/{post['id']}"), 401)
    assert database.snapshot() == before


def test_delete_of_a_missing_post_is_404(ann):
    assert_error(ann.delete(f"{POSTS}/999"), 404, "Post not found")
