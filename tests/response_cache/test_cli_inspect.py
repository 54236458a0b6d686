"""`flask cache inspect|get|ttl-of`: read-only views of single entries, confined to the cache."""

from __future__ import annotations

import pytest


@pytest.fixture
def app(make_app, redis_server):
    return make_app(redis=redis_server)


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["cache", *args])


def test_inspect_shows_the_entry_a_url_is_served_from(app, actions):
    actions.app = app
    writer = actions.signed_in()
    post = actions.create_post(writer, title="seen")
    url = f"/api/v1/posts/{post['id']}"
    assert "not cached" in _run(app, "inspect", url).output
    client = app.test_client()
    client.get(url)
    assert client.get(url).headers["X-Cache"] == "HIT"
    shown = _run(app, "inspect", url).output
    assert "status:      200" in shown and "fresh for:" in shown, shown
    # A tracking parameter maps to the same entry.
    assert "status:      200" in _run(app, "inspect", url + "?utm_source=x").output


def test_inspect_refuses_urls_that_are_never_cached(app):
    result = _run(app, "inspect", "/api/v1/auth/me")
    assert result.exit_code == 1
    assert "not served from a public cache entry" in result.output


def test_get_and_ttl_of_read_service_entries(app, actions):
    actions.app = app
    writer = actions.signed_in()
    post = actions.create_post(writer, title="svc")
    # A signed-in read bypasses the response cache and fills the service entry.
    assert writer.get(f"/api/v1/posts/{post['id']}").headers["X-Cache"] == "BYPASS"
    key = f"posts:single:{post['id']}"
    shown = _run(app, "get", key).output
    assert '"title":"svc"' in shown, shown
    assert _run(app, "ttl-of", key).output.startswith("fresh ")
    assert _run(app, "ttl-of", "posts:single:999999").output.strip() == "-1"


def test_keys_outside_the_namespace_cannot_be_read(app, redis_server):
    redis_server.client().set("sess:secret", b"do not show")
    for command in ("get", "ttl-of"):
        output = _run(app, command, "sess:secret").output
        assert "do not show" not in output
    assert "not cached" in _run(app, "get", "sess:secret").output
