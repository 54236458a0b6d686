"""Embedded mode: runtime toggles reach every worker through the shared database."""

from __future__ import annotations

import time

import pytest
from flask_response_cache.contrib.sqlalchemy import SqlToggleStore
from flask_response_cache.ops import set_route
from flask_response_cache.state import state_for

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")


def _x_cache_within(app, seconds: float, wanted: str) -> float | None:
    """Poll like a client until the answer says ``wanted``; the elapsed time, or None."""
    client = app.test_client()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if client.get("/api/v1/posts").headers.get("X-Cache") == wanted:
            return time.monotonic() - started
    return None


def test_toggle_on_one_worker_reaches_another_within_a_second(make_app):
    worker_a = make_app()  # two apps, one database, each its own in-process store
    worker_b = make_app()
    assert isinstance(state_for(worker_b).toggles.store, SqlToggleStore)
    warm = worker_b.test_client()
    warm.get("/api/v1/posts")
    assert warm.get("/api/v1/posts").headers["X-Cache"] == "HIT"

    with worker_a.app_context():
        set_route(state_for(worker_a), "posts.list_posts", enabled=False)
    elapsed = _x_cache_within(worker_b, 1.5, "BYPASS")
    assert elapsed is not None and elapsed < 1.0

    with worker_a.app_context():
        set_route(state_for(worker_a), "posts.list_posts", enabled=True)
    assert _x_cache_within(worker_b, 1.5, "HIT") is not None


def test_sql_store_version_grows_with_every_save(make_app):
    from flask_response_cache.toggles import RouteToggle

    app = make_app()
    store = state_for(app).toggles.store
    versions = [store.version()]
    for enabled in (False, True, False):
        store.save("posts.get_post", RouteToggle(enabled, None))
        versions.append(store.version())
    store.save("posts.list_posts", RouteToggle(True, 30))
    versions.append(store.version())
    assert versions == sorted(set(versions))
    assert store.load()["posts.list_posts"] == RouteToggle(True, 30)
