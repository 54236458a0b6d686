# mypy: allow-untyped-defs, allow-incomplete-defs
"""One contract suite for every storage backend (storage.py's docstring).

``MemoryStorage`` and ``RedisStorage`` (on a real redis-server) run every
test; ``NullStorage`` runs the ones that make sense for a store that keeps
nothing.
"""

from __future__ import annotations

import pytest
from flask_response_cache import connect_redis as build_client
from flask_response_cache.breaker import CircuitBreaker
from flask_response_cache.layout import Layout
from flask_response_cache.storage import (
    EPOCH,
    OK,
    STALE,
    MemoryStorage,
    NullStorage,
    StorageUnavailable,
)
from flask_response_cache.storage.redis import RedisStorage

LAYOUT = Layout("rc")


@pytest.fixture(params=["memory", "redis"])
def storage(request):
    if request.param == "memory":
        return MemoryStorage(LAYOUT)
    server = request.getfixturevalue("redis_server")
    return RedisStorage(build_client(server.url, timeout=0.5), LAYOUT)


@pytest.fixture
def epoch(storage) -> str:
    return storage.verify(0, "ep1")


def entry_key(epoch: str, name: str) -> str:
    return LAYOUT.entry(epoch, name)


def test_a_new_store_moves_to_the_offered_epoch_and_keeps_it(storage):
    assert storage.verify(0, "ep1") == "ep1"
    assert storage.verify(0, "ep2") == "ep1"


def test_a_store_behind_the_journal_moves_to_a_new_epoch(storage, epoch):
    storage.invalidate(epoch, ["posts"], 5)
    assert storage.verify(5, "ep2") == epoch  # caught up
    assert storage.verify(6, "ep3") == "ep3"  # lost invalidation 6: restart from scratch


def test_acquire_is_exclusive_until_released_by_its_owner(storage, epoch):
    assert storage.acquire(epoch, "n", "owner", 10_000) == (True, 0)
    assert storage.acquire(epoch, "n", "other", 10_000)[0] is False
    storage.release(epoch, "n", "other")  # not the owner: no effect
    assert storage.acquire(epoch, "n", "other", 10_000)[0] is False
    storage.release(epoch, "n", "owner")
    assert storage.acquire(epoch, "n", "other", 10_000)[0] is True
    assert storage.acquire(epoch, "m", "owner", 10_000)[0] is True  # per name


def test_claim_locks_and_reads_the_entry_in_one_step(storage, epoch):
    assert storage.claim(epoch, "n", "owner", 10_000) == (True, 0, None)
    assert storage.store(epoch, "n", b"value", 60_000, ["posts"], 0) == OK
    storage.invalidate(epoch, ["other"], 0)
    # The owner still holds the lock: another claim gets no lock, but the entry.
    assert storage.claim(epoch, "n", "other", 10_000) == (False, 1, b"value")
    storage.release(epoch, "n", "owner")
    assert storage.claim(epoch, "n", "other", 10_000) == (True, 1, b"value")


def test_claim_with_an_empty_token_only_reads(storage, epoch):
    assert storage.claim(epoch, "n", "", 10_000) == (False, 0, None)
    assert storage.acquire(epoch, "n", "owner", 10_000)[0] is True  # nothing was locked
    assert storage.claim(epoch, "n", "", 10_000)[0] is False


def test_store_releases_its_own_lock_whatever_the_verdict(storage, epoch):
    locked, snapshot, _ = storage.claim(epoch, "n", "owner", 10_000)
    assert locked
    assert storage.store(epoch, "n", b"v", 60_000, [], snapshot, release="owner") == OK
    assert storage.acquire(epoch, "n", "next", 10_000)[0] is True
    storage.invalidate(epoch, ["posts"], 0)
    # A refused (stale) store releases too; another owner's token releases nothing.
    assert storage.store(epoch, "n", b"v", 60_000, ["posts"], 0, release="next") == STALE
    assert storage.acquire(epoch, "n", "third", 10_000)[0] is True
    assert storage.store(epoch, "n", b"v", 60_000, [], 1, release="not-mine") == OK
    assert storage.acquire(epoch, "n", "fourth", 10_000)[0] is False


def test_acquire_reports_the_current_generation(storage, epoch):
    storage.invalidate(epoch, ["a"], 0)
    storage.invalidate(epoch, ["b"], 0)
    assert storage.acquire(epoch, "n", "t", 1000) == (True, 2)


def test_store_then_get(storage, epoch):
    assert storage.store(epoch, "n", b"value", 60_000, ["posts"], 0) == OK
    assert storage.get(entry_key(epoch, "n")) == b"value"


def test_store_refuses_another_epoch(storage, epoch):
    assert storage.store("other", "n", b"value", 60_000, [], 0) == EPOCH
    assert storage.get(entry_key("other", "n")) is None


def test_store_refuses_a_value_computed_before_an_invalidation_of_its_tags(storage, epoch):
    _, snapshot = storage.acquire(epoch, "n", "t", 1000)
    storage.invalidate(epoch, ["post:1"], 0)  # a write lands while the value is computed
    assert storage.store(epoch, "n", b"old", 60_000, ["posts", "post:1"], snapshot) == STALE
    assert storage.get(entry_key(epoch, "n")) is None
    # an untouched tag does not block, and a fresh snapshot stores
    assert storage.store(epoch, "m", b"v", 60_000, ["post:2"], snapshot) == OK
    _, fresh = storage.acquire(epoch, "n", "t2", 1000)
    assert storage.store(epoch, "n", b"new", 60_000, ["post:1"], fresh) == OK


def test_invalidate_deletes_exactly_the_tagged_entries(storage, epoch):
    storage.store(epoch, "a", b"1", 60_000, ["posts", "post:1"], 0)
    storage.store(epoch, "b", b"2", 60_000, ["posts", "post:2"], 0)
    storage.store(epoch, "c", b"3", 60_000, ["user:7"], 0)
    assert storage.invalidate(epoch, ["post:1"], 0) == OK
    assert storage.get(entry_key(epoch, "a")) is None
    assert storage.get(entry_key(epoch, "b")) == b"2"
    storage.invalidate(epoch, ["posts"], 0)
    assert storage.get(entry_key(epoch, "b")) is None
    assert storage.get(entry_key(epoch, "c")) == b"3"


def test_invalidate_refuses_another_epoch(storage, epoch):
    storage.store(epoch, "a", b"1", 60_000, ["posts"], 0)
    assert storage.invalidate("other", ["posts"], 0) == EPOCH
    assert storage.get(entry_key(epoch, "a")) == b"1"


def test_scan_and_delete_stay_inside_the_namespace(storage, epoch):
    storage.store(epoch, "http:posts.list_posts:aa", b"1", 60_000, [], 0)
    storage.store(epoch, "http:posts.list_posts:bb", b"2", 60_000, [], 0)
    storage.store(epoch, "http:posts.get_post:cc", b"3", 60_000, [], 0)
    found = storage.scan(LAYOUT.entry_pattern("http:posts.list_posts:*"), 100)
    assert sorted(found) == [
        entry_key(epoch, "http:posts.list_posts:aa"),
        entry_key(epoch, "http:posts.list_posts:bb"),
    ]
    assert len(storage.scan(LAYOUT.entry_pattern("http:*"), 1)) == 1  # bounded
    assert storage.delete(found) == 2
    assert storage.get(entry_key(epoch, "http:posts.get_post:cc")) == b"3"
    with pytest.raises(ValueError):
        storage.scan("sess:*", 10)
    with pytest.raises(ValueError):
        storage.delete(["sess:abc"])
    with pytest.raises(ValueError):
        storage.delete([entry_key(epoch, "x"), "rl:LIMITER/abc"])


def test_cache_operations_never_touch_session_or_limiter_keys(redis_server):
    client = redis_server.client()
    client.set("sess:abc", b"session")
    client.set("rl:LIMITER/127.0.0.1", b"3")
    client.set("{rc}x", b"not ours either")  # shares the prefix text but not the layout
    storage = RedisStorage(build_client(redis_server.url, timeout=0.5), LAYOUT)
    epoch = storage.verify(0, "ep1")
    storage.store(epoch, "n", b"v", 60_000, ["posts"], 0)
    storage.invalidate(epoch, ["posts"], 1)
    storage.delete(storage.scan(LAYOUT.entry_pattern("*"), 1000))
    assert client.get("sess:abc") == b"session"
    assert client.get("rl:LIMITER/127.0.0.1") == b"3"
    assert client.get("{rc}x") == b"not ours either"
    foreign = {b"sess:abc", b"rl:LIMITER/127.0.0.1", b"{rc}x"}
    assert all(key.startswith(b"{rc}:") or key in foreign for key in client.scan_iter())


def test_hash_and_counter_operations(storage):
    assert storage.hash_get_all(LAYOUT.toggles) == {}
    storage.hash_set(LAYOUT.toggles, "posts.list_posts", b'{"enabled": false}')
    assert storage.hash_get_all(LAYOUT.toggles) == {"posts.list_posts": b'{"enabled": false}'}
    storage.hash_incr(LAYOUT.stats, {"a:hit": 2, "a:miss": 1})
    storage.hash_incr(LAYOUT.stats, {"a:hit": 3})
    assert storage.hash_get_all(LAYOUT.stats) == {"a:hit": b"5", "a:miss": b"1"}
    assert storage.get_int(LAYOUT.toggles_version) == 0
    assert storage.incr(LAYOUT.toggles_version) == 1
    assert storage.incr(LAYOUT.toggles_version) == 2
    assert storage.get_int(LAYOUT.toggles_version) == 2


def test_entries_expire_after_their_retention_in_memory():
    now = [0.0]
    storage = MemoryStorage(LAYOUT, clock=lambda: now[0])
    epoch = storage.verify(0, "ep1")
    storage.store(epoch, "n", b"v", 1_500, [], 0)
    now[0] = 1.4
    assert storage.get(entry_key(epoch, "n")) == b"v"
    now[0] = 1.5
    assert storage.get(entry_key(epoch, "n")) is None


def test_memory_storage_is_bounded():
    storage = MemoryStorage(LAYOUT, max_entries=3)
    epoch = storage.verify(0, "ep1")
    for index in range(5):
        storage.store(epoch, f"n{index}", b"v", 60_000, [], 0)
    assert [storage.get(entry_key(epoch, f"n{i}")) for i in range(5)] == [None, None] + [b"v"] * 3


def test_redis_failures_surface_as_storage_unavailable(redis_server):
    storage = RedisStorage(build_client(redis_server.url, timeout=0.2), LAYOUT)
    redis_server.kill()
    for operation in (
        lambda: storage.get("{rc}:x"),
        lambda: storage.verify(0, "e"),
        lambda: storage.hash_get_all(LAYOUT.toggles),
        lambda: storage.incr(LAYOUT.toggles_version),
    ):
        with pytest.raises(StorageUnavailable):
            operation()


def test_every_script_runs_on_a_server_that_lost_its_scripts(redis_server):
    """Scripts go out as raw EVALSHA: a restarted or failed-over server answers NOSCRIPT,
    and the call loads the script and runs it instead of failing."""
    storage = RedisStorage(build_client(redis_server.url, timeout=0.5), LAYOUT)
    flush = redis_server.client().script_flush
    flush()
    epoch = storage.verify(0, "ep1")
    flush()
    assert storage.acquire(epoch, "n", "t", 1000) == (True, 0)
    flush()
    storage.release(epoch, "n", "t")
    flush()
    assert storage.claim(epoch, "n", "t2", 1000) == (True, 0, None)
    flush()
    assert storage.store(epoch, "n", b"v", 60_000, ["posts"], 0, release="t2") == OK
    flush()
    assert storage.invalidate(epoch, ["posts"], 0) == OK
    assert storage.get(entry_key(epoch, "n")) is None


def test_an_error_reply_to_a_script_is_storage_unavailable(redis_server):
    storage = RedisStorage(build_client(redis_server.url, timeout=0.5), LAYOUT)
    epoch = storage.verify(0, "ep1")
    redis_server.client().lpush(LAYOUT.generation(epoch), "x")  # GET on a list: WRONGTYPE
    with pytest.raises(StorageUnavailable):
        storage.acquire(epoch, "n", "t", 1000)


def test_repeated_error_replies_to_scripts_open_the_circuit(redis_server):
    breaker = CircuitBreaker(failure_threshold=3, background=False)
    storage = RedisStorage(build_client(redis_server.url, timeout=0.5), LAYOUT, breaker)
    epoch = storage.verify(0, "ep1")
    redis_server.client().lpush(LAYOUT.generation(epoch), "x")  # WRONGTYPE on every acquire
    for _ in range(3):
        with pytest.raises(StorageUnavailable):
            storage.acquire(epoch, "n", "t", 1000)
    assert breaker.is_open


def test_null_storage_keeps_nothing_and_never_fails():
    storage = NullStorage(LAYOUT)
    epoch = storage.verify(0, "ep1")
    assert storage.acquire(epoch, "n", "t", 1000) == (True, 0)
    assert storage.acquire(epoch, "n", "u", 1000) == (True, 0)  # no coalescing: nothing kept
    assert storage.claim(epoch, "n", "t", 1000) == (True, 0, None)
    assert storage.claim(epoch, "n", "", 1000) == (False, 0, None)
    assert storage.store(epoch, "n", b"v", 60_000, ["posts"], 0) == OK
    assert storage.get(entry_key(epoch, "n")) is None
    assert storage.invalidate(epoch, ["posts"], 1) == OK
    assert storage.scan(LAYOUT.entry_pattern("*"), 10) == []
    assert storage.delete([entry_key(epoch, "n")]) == 0
    storage.hash_incr(LAYOUT.stats, {"a:hit": 1})
    assert storage.hash_get_all(LAYOUT.stats) == {}
    assert storage.get_int(LAYOUT.toggles_version) == 0


def test_a_restart_moves_the_connection_generation_but_a_growing_pool_does_not(redis_server):
    storage = RedisStorage(build_client(redis_server.url, timeout=0.5), LAYOUT)
    storage.get("{rc}:x")
    first = storage.connection_generation()
    assert first > 0
    pool = storage.client.connection_pool
    extra = [pool.get_connection() for _ in range(5)]  # concurrent requests grow the pool
    for connection in extra:
        pool.release(connection)
    assert storage.connection_generation() == first
    redis_server.restart()
    try:
        storage.get("{rc}:x")
    except StorageUnavailable:
        storage.get("{rc}:x")  # the first call only learned that the old server went away
    assert storage.connection_generation() > first
