# mypy: allow-untyped-defs, allow-incomplete-defs
"""Per-endpoint counters: kept per process, flushed to the shared hash at most once a second."""

from __future__ import annotations

from flask_response_cache import Layout, MemoryStorage, RedisStorage
from flask_response_cache import connect_redis as build_client
from flask_response_cache.stats import Counters


def test_counts_are_flushed_at_most_once_per_interval(clock):
    storage = MemoryStorage()
    counters = Counters(storage, clock, interval=1.0)
    counters.add("posts.list_posts", "hit")
    counters.add("posts.list_posts", "hit")
    counters.maybe_flush()
    assert storage.hash_get_all(storage.layout.stats) == {}  # not yet: under a second
    assert counters.read()["posts.list_posts"]["hit"] == 2  # readers see unflushed counts
    clock.advance(1.0)
    counters.maybe_flush()
    assert storage.hash_get_all(storage.layout.stats) == {"posts.list_posts:hit": b"2"}
    counters.add("posts.list_posts", "miss")
    counters.maybe_flush()  # flushed a moment ago: waits for the next second
    assert storage.hash_get_all(storage.layout.stats) == {"posts.list_posts:hit": b"2"}


def test_processes_sharing_a_store_add_up(clock, redis_server):
    def process() -> Counters:
        return Counters(RedisStorage(build_client(redis_server.url, 0.5), Layout()), clock)

    first, second = process(), process()
    first.add("posts.get_post", "store")
    second.add("posts.get_post", "store")
    second.add("posts.get_post", "error")
    assert first.flush() and second.flush()
    totals = first.read()["posts.get_post"]
    assert (totals["store"], totals["error"], totals["hit"]) == (2, 1, 0)


def test_a_failed_flush_keeps_the_counts(clock, redis_server):
    counters = Counters(RedisStorage(build_client(redis_server.url, 0.2), Layout()), clock)
    counters.add("posts.list_posts", "bypass")
    redis_server.kill()
    assert counters.flush() is False
    redis_server.start()
    counters.add("posts.list_posts", "bypass")
    assert counters.flush() is True
    assert counters.read()["posts.list_posts"]["bypass"] == 2
