"""Posts stay fresh through both cache faces, even when Redis dies, hangs or time-travels."""

from __future__ import annotations

import time

import pytest

from cache import service as service_cache
from services import posts as post_service


@pytest.fixture
def redis_app(make_app, redis_server):
    # Sessions in SQL so that writes can still be authenticated while Redis is
    # dead or hung: that is when a lost invalidation could hurt.
    return make_app(redis=redis_server, SESSION_BACKEND="sql")


def _writer(actions, app):
    actions.app = app
    client = actions.signed_in("author@example.com", "Author")
    return client


def _read_title(app, post_id):
    anon = app.test_client()
    single = anon.get(f"/api/v1/posts/{post_id}")
    listed = anon.get("/api/v1/posts?page=1&limit=20")
    assert single.status_code == 200 and listed.status_code == 200
    titles = {p["id"]: p["title"] for p in listed.get_json()["data"]}
    return single.get_json()["title"], titles.get(post_id)


def _warm(app, post_id):
    anon = app.test_client()
    for _ in range(2):
        anon.get(f"/api/v1/posts/{post_id}")
        anon.get("/api/v1/posts?page=1&limit=20")
    hit = anon.get(f"/api/v1/posts/{post_id}")
    assert hit.headers.get("X-Cache") == "HIT"


def _patch(client, post_id, title):
    started = time.perf_counter()
    response = client.patch(f"/api/v1/posts/{post_id}", json={"title": title})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)
    return elapsed


def test_update_invalidates_response_and_service_caches(redis_app, actions):
    writer = _writer(actions, redis_app)
    post = actions.create_post(writer, title="before")
    _warm(redis_app, post["id"])
    _patch(writer, post["id"], "after")
    assert _read_title(redis_app, post["id"]) == ("after", "after")


@pytest.mark.parametrize("fault", ["kill", "pause", "client-pause"])
def test_update_during_redis_fault_is_prompt_and_next_read_is_fresh(
    redis_app, actions, redis_server, fault
):
    writer = _writer(actions, redis_app)
    post = actions.create_post(writer, title="before")
    _warm(redis_app, post["id"])
    if fault == "kill":
        redis_server.kill()
    elif fault == "pause":
        redis_server.pause()
    else:
        redis_server.client().execute_command("CLIENT", "PAUSE", 3000, "ALL")
    try:
        elapsed = _patch(writer, post["id"], "after")
    finally:
        if fault == "kill":
            redis_server.start()
        elif fault == "pause":
            redis_server.resume()
        else:
            redis_server.client().execute_command("CLIENT", "UNPAUSE")
    assert elapsed < 2.0  # one short timeout plus one trust lease at most
    # Redis is back: the very next reads of the post and of the list are fresh.
    assert _read_title(redis_app, post["id"]) == ("after", "after")


def test_update_while_redis_refuses_writes_with_redis_sessions(make_app, actions, redis_server):
    # CLIENT PAUSE WRITE: session reads still work, the invalidation cannot land.
    app = make_app(redis=redis_server)
    writer = _writer(actions, app)
    post = actions.create_post(writer, title="before")
    _warm(app, post["id"])
    admin = redis_server.client()
    admin.execute_command("CLIENT", "PAUSE", 3000, "WRITE")
    try:
        elapsed = _patch(writer, post["id"], "after")
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    assert elapsed < 2.0
    assert _read_title(app, post["id"]) == ("after", "after")


def test_restart_from_snapshot_taken_before_update_serves_fresh(redis_app, actions, redis_server):
    writer = _writer(actions, redis_app)
    post = actions.create_post(writer, title="before")
    _warm(redis_app, post["id"])
    redis_server.save_snapshot()
    _patch(writer, post["id"], "after")
    redis_server.restart(from_snapshot=True)
    assert _read_title(redis_app, post["id"]) == ("after", "after")


def test_delete_then_read_is_404_even_from_a_warm_cache(redis_app, actions):
    writer = _writer(actions, redis_app)
    post = actions.create_post(writer, title="gone soon")
    _warm(redis_app, post["id"])
    assert writer.delete(f"/api/v1/posts/{post['id']}").status_code == 204
    assert redis_app.test_client().get(f"/api/v1/posts/{post['id']}").status_code == 404


def test_embedded_workers_each_with_own_memory_stay_consistent(make_app, actions):
    # Two apps on one database, each with its own in-process store, stand in
    # for two gunicorn workers in embedded mode.
    worker_a = make_app()
    worker_b = make_app()
    writer = _writer(actions, worker_a)
    post = actions.create_post(writer, title="before")
    _warm(worker_b, post["id"])
    _patch(writer, post["id"], "after")
    assert _read_title(worker_b, post["id"]) == ("after", "after")


def test_service_cache_stale_set_race_is_closed(redis_app, actions):
    writer = _writer(actions, redis_app)
    post = actions.create_post(writer, title="before")
    user = post["author"]["id"]
    with redis_app.test_request_context():
        service_cache.invalidate(f"posts:single:{post['id']}")  # start from a miss
        calls = []

        def slow_reader():
            calls.append(1)
            value = post_service._load_post(post["id"])  # reads "before"...
            # ...and a write commits before the reader stores it.
            post_service.update_post(post["id"], user, {"title": "after"})
            return value

        stale = service_cache.get_or_set(
            f"posts:single:{post['id']}", slow_reader, ttl=300, tags=[f"post:{post['id']}"]
        )
        assert calls == [1]
        assert stale["title"] == "before"  # the reader itself got what it read
        assert post_service.get_post(post["id"])["title"] == "after"


def test_cache_stats_show_pending_then_replayed_invalidations(make_app, actions, redis_server):
    from tests.support.fake_clock import FakeClock

    breaker_clock = FakeClock()
    app = make_app(redis=redis_server, SESSION_BACKEND="sql", CLOCK=breaker_clock)
    writer = _writer(actions, app)
    post = actions.create_post(writer, title="before")
    _warm(app, post["id"])
    redis_server.kill()
    _patch(writer, post["id"], "after")
    journal = app.extensions["cache_journal"]
    assert len(journal.pending()) == 1

    redis_server.start()
    app.extensions["redis_link"].breaker.probe_now()  # what the worker's prober does
    stats = app.test_cli_runner().invoke(args=["cache", "stats"])
    assert "1 pending" in stats.output, stats.output
    # Reads are fresh at once (they bypass while the cache is untrusted); the
    # replay happens at the first renewal after the core's short back-off.
    deadline = time.monotonic() + 5
    while journal.pending() and time.monotonic() < deadline:
        assert _read_title(app, post["id"]) == ("after", "after")
    stats = app.test_cli_runner().invoke(args=["cache", "stats"])
    assert "0 pending" in stats.output and "1 replayed" in stats.output, stats.output


def _pages(app, *paths):
    """X-Cache and the parsed body of each path, read anonymously."""
    anon = app.test_client()
    answers = [anon.get(path) for path in paths]
    assert all(a.status_code == 200 for a in answers)
    return [(a.headers.get("X-Cache"), a.get_json()) for a in answers]


def _listed(body):
    return {p["id"]: p["title"] for p in body["data"]}


@pytest.fixture(params=["redis", "embedded"])
def any_app(request, make_app):
    if request.param == "redis":
        return make_app(redis=request.getfixturevalue("redis_server"), SESSION_BACKEND="sql")
    return make_app()


def test_a_title_change_reaches_the_pages_showing_the_post_and_spares_the_others(any_app, actions):
    writer = _writer(actions, any_app)
    made = [actions.create_post(writer, title=f"t{i}") for i in range(4)]
    first, second = "/api/v1/posts?page=1&limit=2", "/api/v1/posts?page=2&limit=2"
    _pages(any_app, first, second)  # fill
    assert [x for x, _ in _pages(any_app, first, second)] == ["HIT", "HIT"]
    oldest = made[0]["id"]  # newest first: the oldest post is on page 2
    _patch(writer, oldest, "renamed")
    (x1, _), (x2, body2) = _pages(any_app, first, second)
    assert x1 == "HIT"  # page 1 does not show the post: kept
    assert x2 == "MISS" and _listed(body2)[oldest] == "renamed"
    # The service cache, read by requests that bypass the HTTP entries, is as fresh.
    with any_app.test_request_context():
        items, _ = post_service.list_posts(2, 2)
    assert {p["id"]: p["title"] for p in items}[oldest] == "renamed"


@pytest.mark.parametrize(
    "change",
    [{"published": False}, {"tags": ["news"]}],
    ids=["unpublish", "retag"],
)
def test_changes_that_move_posts_between_pages_reach_every_list(any_app, actions, change):
    writer = _writer(actions, any_app)
    made = [actions.create_post(writer, title=f"t{i}", tags=["old"]) for i in range(4)]
    pages = ("/api/v1/posts?page=1&limit=2", "/api/v1/posts?tag=news", "/api/v1/posts?tag=old")
    _pages(any_app, *pages)
    assert {x for x, _ in _pages(any_app, *pages)} == {"HIT"}
    oldest = made[0]["id"]
    response = writer.patch(f"/api/v1/posts/{oldest}", json=change)
    assert response.status_code == 200
    answers = _pages(any_app, *pages)
    assert [x for x, _ in answers] == ["MISS", "MISS", "MISS"]
    (_, newest), (_, news), (_, old) = answers
    if "published" in change:
        assert oldest not in _listed(old) and oldest not in _listed(news)
    else:
        assert oldest in _listed(news) and oldest not in _listed(old)
    assert [p["id"] for p in newest["data"]] == [made[3]["id"], made[2]["id"]]


def test_an_update_that_moves_nothing_leaves_the_lists_alone(any_app, actions):
    writer = _writer(actions, any_app)
    post = actions.create_post(writer, title="t")
    with any_app.app_context():
        assert post_service.tags_for_write(post["id"], 1, lists_change=False) == [
            f"post:{post['id']}",
            "user:1",
        ]
    page = "/api/v1/posts?page=1&limit=5&tag=absent"
    _pages(any_app, page)
    writer.patch(f"/api/v1/posts/{post['id']}", json={"published": True, "body": "b2"})
    assert _pages(any_app, page)[0][0] == "HIT"  # already published: no list moved
