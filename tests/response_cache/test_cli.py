"""``flask cache ...``: operate the cache from the command line."""

from __future__ import annotations

import pytest

POSTS = "/api/v1/posts"


@pytest.fixture
def app(make_app, redis_server):
    return make_app(redis=redis_server)


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args: str):
        return runner.invoke(args=["cache", *args])

    return run


def test_routes_lists_the_cacheable_routes(cli):
    result = cli("routes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["endpoint", "scope", "ttl", "default", "on"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"posts.list_posts", "posts.get_post", "posts.my_posts"}
    assert rows["posts.get_post"][1:5] == ["public", "300", "300", "yes"]
    assert rows["posts.my_posts"][1] == "user"


def test_disable_and_enable(app, cli):
    client = app.test_client()
    client.get(POSTS)
    result = cli("disable", "posts.list_posts")
    assert result.exit_code == 0 and "disabled" in result.output
    assert client.get(POSTS).headers["Cache-Status"].endswith("detail=disabled")
    assert cli("enable", "posts.list_posts").exit_code == 0
    assert client.get(POSTS).headers["X-Cache"] == "HIT"


def test_ttl(app, cli):
    client = app.test_client()
    client.get(POSTS)
    result = cli("ttl", "posts.list_posts", "5")
    assert result.exit_code == 0 and "ttl 5s" in result.output
    answer = client.get(POSTS)
    assert answer.headers["X-Cache"] == "MISS"
    assert answer.headers["Cache-Control"].startswith("public, max-age=5,")
    assert cli("ttl", "posts.list_posts", "0").exit_code == 2
    assert cli("ttl", "posts.list_posts", "86401").exit_code == 2


def test_unknown_endpoint_fails(cli):
    result = cli("disable", "auth.login")
    assert result.exit_code == 1
    assert "not a cacheable route" in result.output


def test_purge_by_tag(app, cli):
    client = app.test_client()
    client.get(POSTS)
    result = cli("purge", "--tag", "posts", "--tag", "post:1")
    assert result.exit_code == 0 and "posts, post:1" in result.output
    assert client.get(POSTS).headers["X-Cache"] == "MISS"


def test_purge_by_pattern_is_bounded_prefix_scoped_and_has_a_dry_run(app, cli, redis_server):
    client = app.test_client()
    for page in (1, 2, 3):
        client.get(f"{POSTS}?page={page}")
    raw = redis_server.client()
    raw.set("sess:victim", b"session")
    raw.set("rl:LIMITER/x", b"1")

    dry = cli("purge", "--pattern", "http:posts.list_posts:*", "--dry-run")
    assert dry.exit_code == 0 and "would delete 3 entries" in dry.output
    assert client.get(f"{POSTS}?page=1").headers["X-Cache"] == "HIT"

    limited = cli("purge", "--pattern", "http:posts.list_posts:*", "--limit", "2")
    assert "deleted 2 entries" in limited.output and "limit of 2 reached" in limited.output
    rest = cli("purge", "--pattern", "http:*")
    assert "deleted 1 entries" in rest.output
    assert [client.get(f"{POSTS}?page={p}").headers["X-Cache"] for p in (1, 2, 3)] == ["MISS"] * 3
    everything = cli("purge", "--pattern", "*")  # every entry of the namespace, and only those
    assert everything.exit_code == 0
    assert raw.get("sess:victim") == b"session" and raw.get("rl:LIMITER/x") == b"1"


def test_purge_needs_exactly_one_kind(cli):
    assert cli("purge").exit_code == 1
    assert cli("purge", "--tag", "posts", "--pattern", "*").exit_code == 1


def test_stats(app, cli):
    client = app.test_client()
    client.get(POSTS)
    client.get(POSTS)
    result = cli("stats")
    assert result.exit_code == 0
    row = next(line.split() for line in result.output.splitlines() if "posts.list_posts" in line)
    assert row[1:] == ["1", "1", "0", "0", "1", "0"]


def test_storage_down_is_reported_not_a_traceback(cli, redis_server):
    redis_server.kill()
    for args in (("disable", "posts.list_posts"), ("purge", "--pattern", "*"), ("stats",)):
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert "unavailable" in result.output
