"""Scopes: public entries are for anonymous requests only; per-user entries for their user."""

from __future__ import annotations

import pytest
from flask_response_cache.state import state_for

from tests.conftest import Actions

POSTS = "/api/v1/posts"
MINE = "/api/v1/users/me/posts"


@pytest.fixture
def actions(project_app) -> Actions:
    return Actions(project_app)


def test_per_user_entry_is_stored_and_served_to_its_user(project_app, actions):
    ann = actions.signed_in("ann@example.com", "Ann")
    actions.create_post(ann, title="Ann's draft", published=False)
    first = ann.get(MINE)
    assert first.headers["X-Cache"] == "MISS"
    assert first.headers["Cache-Control"] == "private, max-age=60"
    assert first.headers["Vary"] == "Accept-Encoding, Cookie, Authorization"
    second = ann.get(MINE)
    assert second.headers["X-Cache"] == "HIT"
    assert second.get_json() == first.get_json()
    assert "Set-Cookie" not in second.headers


def test_one_users_entry_never_reaches_another_user_or_anonymous(project_app, actions):
    ann = actions.signed_in("ann@example.com", "Ann")
    actions.create_post(ann, title="Ann's secret draft", published=False)
    ann.get(MINE)
    assert ann.get(MINE).headers["X-Cache"] == "HIT"

    bob = actions.signed_in("bob@example.com", "Bob")
    answer = bob.get(MINE)
    assert answer.status_code == 200
    assert answer.headers["X-Cache"] == "MISS"  # his own entry, not Ann's
    assert "Ann's secret draft" not in answer.get_data(as_text=True)
    assert answer.get_json()["data"] == []

    anonymous = project_app.test_client().get(MINE)
    assert anonymous.status_code == 401
    assert anonymous.headers["X-Cache"] == "BYPASS"
    # login_required sits above @cache_response: it refuses before the cache is consulted.
    assert anonymous.headers["Cache-Status"] == "posts-api; fwd=bypass; detail=not-looked-up"
    assert "secret" not in anonymous.get_data(as_text=True)


def test_after_logout_the_old_cookie_cannot_read_the_cached_private_answer(project_app, actions):
    ann = actions.signed_in("ann@example.com", "Ann")
    actions.create_post(ann, title="Ann's secret draft", published=False)
    ann.get(MINE)
    assert ann.get(MINE).headers["X-Cache"] == "HIT"
    old_cookie = ann.get_cookie("session").value

    assert ann.post("/api/v1/auth/logout").status_code == 204
    replay = project_app.test_client()
    replay.set_cookie("session", old_cookie)
    answer = replay.get(MINE)
    assert answer.status_code == 401
    assert answer.headers["X-Cache"] == "BYPASS"
    assert "secret" not in answer.get_data(as_text=True)


def test_the_authors_draft_is_never_stored_publicly(project_app, actions):
    ann = actions.signed_in("ann@example.com", "Ann")
    draft = actions.create_post(ann, title="Unpublished", published=False)
    path = f"{POSTS}/{draft['id']}"

    mine = ann.get(path)  # the author sees it: a 200 for a logged-in request
    assert mine.status_code == 200
    assert mine.headers["X-Cache"] == "BYPASS"
    assert mine.headers["Cache-Status"] == "posts-api; fwd=bypass; detail=session"
    assert mine.headers["Cache-Control"] == "private"

    stranger = project_app.test_client()
    for _ in range(2):
        answer = stranger.get(path)
        assert answer.status_code == 404
        assert answer.headers["X-Cache"] == "MISS"  # looked up, not found, not stored
        assert "Unpublished" not in answer.get_data(as_text=True)


def test_logged_in_requests_never_fill_or_read_public_entries(project_app, actions):
    ann = actions.signed_in("ann@example.com", "Ann")
    actions.create_post(ann, title="Public post")
    for _ in range(2):
        assert ann.get(POSTS).headers["Cache-Status"] == "posts-api; fwd=bypass; detail=session"
    anonymous = project_app.test_client()
    assert anonymous.get(POSTS).headers["X-Cache"] == "MISS"
    hit = anonymous.get(POSTS)
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.headers["Cache-Control"].startswith("public, max-age=")
    assert "Set-Cookie" not in hit.headers
    assert ann.get(POSTS).headers["X-Cache"] == "BYPASS"


def test_a_write_invalidates_the_public_and_the_per_user_entries(project_app, actions):
    ann = actions.signed_in("ann@example.com", "Ann")
    post = actions.create_post(ann, title="First")
    anonymous = project_app.test_client()
    single = f"{POSTS}/{post['id']}"
    for path in (POSTS, single):
        anonymous.get(path)
        assert anonymous.get(path).headers["X-Cache"] == "HIT"
    ann.get(MINE)
    assert ann.get(MINE).headers["X-Cache"] == "HIT"

    assert ann.patch(single, json={"title": "Renamed"}).status_code == 200
    listing = anonymous.get(POSTS)
    assert listing.headers["X-Cache"] == "MISS"
    assert listing.get_json()["data"][0]["title"] == "Renamed"
    assert anonymous.get(single).get_json()["title"] == "Renamed"
    mine = ann.get(MINE)
    assert mine.headers["X-Cache"] == "MISS"
    assert mine.get_json()["data"][0]["title"] == "Renamed"


def test_cache_enabled_false_switches_the_projects_caches_off(make_app):
    app = make_app(CACHE_ENABLED=False)
    client = app.test_client()
    for _ in range(2):
        answer = client.get("/api/v1/posts")
        assert answer.status_code == 200
        assert "X-Cache" not in answer.headers
    assert state_for(app).settings.enabled is False
