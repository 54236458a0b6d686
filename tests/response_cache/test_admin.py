"""Admin endpoints: list cacheable routes, toggle them at runtime, purge tags."""

from __future__ import annotations

import pytest

from extensions import db
from services import users
from tests.conftest import PASSWORD, Actions

ADMIN = "/api/v1/admin/cache"
POSTS = "/api/v1/posts"


@pytest.fixture
def admin(project_app):
    with project_app.app_context():
        users.register("root@example.com", "Root", PASSWORD, is_admin=True)
        db.session.remove()
    client = project_app.test_client()
    Actions(project_app).login(client, "root@example.com")
    return client


@pytest.fixture
def member(project_app):
    return Actions(project_app).signed_in("joe@example.com", "Joe")


CALLS = [
    ("get", f"{ADMIN}/routes", None),
    ("patch", f"{ADMIN}/routes/posts.list_posts", {"enabled": False}),
    ("post", f"{ADMIN}/purge", {"tags": ["posts"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_anonymous_callers_get_401_and_members_403(project_app, member, method, path, body):
    anonymous = project_app.test_client()
    assert getattr(anonymous, method)(path, json=body).status_code == 401
    assert getattr(anonymous, method)(path, json={"nonsense": 1}).status_code == 401
    assert getattr(member, method)(path, json=body).status_code == 403


def test_routes_lists_every_cacheable_route(admin):
    answer = admin.get(f"{ADMIN}/routes")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Cache"] == "BYPASS"
    routes = {route["endpoint"]: route for route in answer.get_json()}
    assert set(routes) == {"posts.list_posts", "posts.get_post", "posts.my_posts"}
    listing = routes["posts.list_posts"]
    assert listing["rule"] == "/api/v1/posts"
    assert (listing["scope"], listing["ttl"], listing["default_ttl"]) == ("public", 60, 60)
    assert listing["enabled"] is True
    assert set(listing["counters"]) == {"hit", "miss", "stale", "bypass", "store", "error"}
    assert (routes["posts.get_post"]["ttl"], routes["posts.my_posts"]["scope"]) == (300, "user")


def test_counters_show_traffic(project_app, admin):
    client = project_app.test_client()
    client.get(POSTS)
    client.get(POSTS)
    admin.get(POSTS)  # a logged-in request: bypasses the public entry
    routes = {route["endpoint"]: route for route in admin.get(f"{ADMIN}/routes").get_json()}
    counters = routes["posts.list_posts"]["counters"]
    assert counters == {"hit": 1, "miss": 1, "stale": 0, "bypass": 1, "store": 1, "error": 0}


def test_disable_then_enable_a_route(project_app, admin):
    client = project_app.test_client()
    client.get(POSTS)
    assert client.get(POSTS).headers["X-Cache"] == "HIT"

    answer = admin.patch(f"{ADMIN}/routes/posts.list_posts", json={"enabled": False})
    assert answer.status_code == 200
    assert answer.get_json()["enabled"] is False
    for _ in range(2):
        off = client.get(POSTS)
        assert off.headers["X-Cache"] == "BYPASS"
        assert off.headers["Cache-Status"] == "posts-api; fwd=bypass; detail=disabled"

    assert (
        admin.patch(f"{ADMIN}/routes/posts.list_posts", json={"enabled": True}).status_code == 200
    )
    assert client.get(POSTS).headers["X-Cache"] == "HIT"  # entries were kept, still fresh


def test_change_a_routes_ttl(project_app, admin):
    client = project_app.test_client()
    client.get(POSTS)
    answer = admin.patch(f"{ADMIN}/routes/posts.list_posts", json={"ttl": 5})
    assert answer.get_json()["ttl"] == 5 and answer.get_json()["default_ttl"] == 60
    refilled = client.get(POSTS)  # the old 60 s entries were purged
    assert refilled.headers["X-Cache"] == "MISS"
    assert refilled.headers["Cache-Control"].startswith("public, max-age=5,")
    routes = {route["endpoint"]: route for route in admin.get(f"{ADMIN}/routes").get_json()}
    assert routes["posts.list_posts"]["ttl"] == 5


@pytest.mark.parametrize("endpoint", ["nope", "auth.login", "admin.list_cache_routes"])
def test_unknown_or_uncacheable_endpoint_is_404(admin, endpoint):
    assert admin.patch(f"{ADMIN}/routes/{endpoint}", json={"enabled": False}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ttl": 0},
        {"ttl": 86_401},
        {"ttl": "60"},
        {"ttl": 1.5},
        {"enabled": "yes"},
        {"enabled": 1},
        {"colour": "red"},
        [],
        {"enabled": None},
    ],
)
def test_bad_patch_bodies_are_422(admin, body):
    answer = admin.patch(f"{ADMIN}/routes/posts.list_posts", json=body)
    assert answer.status_code == 422, answer.get_json()


def test_purge_tags(project_app, admin):
    client = project_app.test_client()
    client.get(POSTS)
    assert client.get(POSTS).headers["X-Cache"] == "HIT"
    answer = admin.post(f"{ADMIN}/purge", json={"tags": ["posts", "posts", "post:1"]})
    assert answer.status_code == 200
    assert answer.get_json() == {"purged_tags": ["posts", "post:1"]}
    assert answer.headers["Cache-Control"] == "no-store"
    assert client.get(POSTS).headers["X-Cache"] == "MISS"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tags": []},
        {"tags": [f"t{i}" for i in range(51)]},
        {"tags": [""]},
        {"tags": "posts"},
        {"tags": ["x" * 201]},
        {"tags": ["posts"], "extra": 1},
    ],
)
def test_bad_purge_bodies_are_422(admin, body):
    assert admin.post(f"{ADMIN}/purge", json=body).status_code == 422


def test_admin_endpoints_are_documented(project_app):
    spec = project_app.test_client().get("/openapi.json").get_json()
    paths = spec["paths"]
    assert "get" in paths["/api/v1/admin/cache/routes"]
    assert "patch" in paths["/api/v1/admin/cache/routes/{endpoint}"]
    assert "post" in paths["/api/v1/admin/cache/purge"]
