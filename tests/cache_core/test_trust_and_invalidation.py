"""The core never serves data from before an acknowledged write: races, outages, restarts."""

from __future__ import annotations

import time

import pytest
from flask_response_cache.core import BYPASS, FILL, HIT
from flask_response_cache.record import Freshness
from flask_response_cache.storage import STALE

from tests.cache_core.conftest import commit_write, memory_core, redis_core

FRESH = Freshness(ttl=300)


def fill_value(core, name, payload, tags):
    found = core.lookup(name)
    assert found.outcome == FILL
    assert core.complete(found.fill, payload, FRESH, tags) == "ok"


@pytest.fixture(params=["redis", "memory"])
def core_factory(request, redis_server, journal, clock):
    def build(**kwargs):
        if request.param == "redis":
            return redis_core(redis_server.url, journal, clock, **kwargs)
        return memory_core(journal, clock, **kwargs)

    return build


def test_stale_set_race_is_closed(core_factory, engine, journal):
    core = core_factory()
    # Reader misses and starts computing from the database (old data)...
    reader = core.lookup("posts:single:1")
    assert reader.outcome == FILL
    # ...a writer commits and invalidates while the reader is paused...
    seq = commit_write(engine, journal, ["post:1"])
    assert core.invalidate_recorded(seq, ["post:1"])
    # ...then the reader tries to store what it read before the write.
    assert core.complete(reader.fill, b"old", FRESH, ["post:1"]) == STALE
    assert core.lookup("posts:single:1").outcome == FILL


def test_invalidation_reaches_every_tagged_entry_and_only_those(core_factory, engine, journal):
    core = core_factory()
    fill_value(core, "a", b"A", ["posts", "post:1"])
    fill_value(core, "b", b"B", ["post:2"])
    seq = commit_write(engine, journal, ["post:1"])
    assert core.invalidate_recorded(seq, ["post:1"])
    assert core.lookup("a").outcome == FILL
    assert core.lookup("b").outcome == HIT


def test_store_after_unrelated_invalidation_is_accepted(core_factory, engine, journal):
    core = core_factory()
    reader = core.lookup("x")
    seq = commit_write(engine, journal, ["post:9"])
    core.invalidate_recorded(seq, ["post:9"])
    assert core.complete(reader.fill, b"X", FRESH, ["post:1"]) == "ok"


def test_write_while_redis_killed_is_prompt_and_next_read_is_fresh(
    redis_server, engine, journal, clock
):
    writer = redis_core(redis_server.url, journal, clock)
    other = redis_core(redis_server.url, journal, clock)  # another process
    fill_value(writer, "posts:single:1", b"v1", ["post:1"])
    assert other.lookup("posts:single:1").outcome == HIT

    redis_server.kill()
    seq = commit_write(engine, journal, ["post:1"])
    started = time.perf_counter()
    assert writer.invalidate_recorded(seq, ["post:1"]) is False
    assert time.perf_counter() - started < 1.0
    assert [entry[0] for entry in journal.pending()] == [seq]

    redis_server.start()  # same port, data lost anyway (no persistence)
    assert other.lookup("posts:single:1").outcome != HIT
    assert journal.pending() == []


def test_write_while_redis_hung_then_resumed_is_never_read_stale(
    redis_server, engine, journal, clock
):
    writer = redis_core(redis_server.url, journal, clock)
    other = redis_core(redis_server.url, journal, clock)
    fill_value(writer, "posts:single:1", b"v1", ["post:1"])
    assert other.lookup("posts:single:1").outcome == HIT  # other holds a lease

    redis_server.pause()  # SIGSTOP: connections stay open, replies never come
    seq = commit_write(engine, journal, ["post:1"])
    started = time.perf_counter()
    assert writer.invalidate_recorded(seq, ["post:1"]) is False
    assert time.perf_counter() - started < 1.0  # one short timeout, no retries
    redis_server.resume()

    # The writer waited out a lease before acknowledging, so the other
    # process must re-read the journal: it applies the pending invalidation
    # first and never serves v1.
    found = other.lookup("posts:single:1")
    assert found.outcome == FILL
    assert journal.pending() == []


def test_client_pause_during_write_then_fresh(redis_server, engine, journal, clock, plain_redis):
    writer = redis_core(redis_server.url, journal, clock)
    other = redis_core(redis_server.url, journal, clock)
    fill_value(writer, "k", b"v1", ["post:1"])
    plain_redis.execute_command("CLIENT", "PAUSE", 1500, "ALL")
    seq = commit_write(engine, journal, ["post:1"])
    assert writer.invalidate_recorded(seq, ["post:1"]) is False
    plain_redis.execute_command("CLIENT", "UNPAUSE")
    assert other.lookup("k").outcome == FILL


def test_restart_from_older_snapshot_moves_to_a_new_epoch(redis_server, engine, journal, clock):
    core = redis_core(redis_server.url, journal, clock)
    fill_value(core, "posts:single:1", b"v1", ["post:1"])
    redis_server.save_snapshot()  # the snapshot still holds v1
    seq = commit_write(engine, journal, ["post:1"])
    assert core.invalidate_recorded(seq, ["post:1"])
    redis_server.restart(from_snapshot=True)  # v1 is back in Redis
    assert redis_server.client().keys("{rc}:e:*")  # really resurrected
    found = core.lookup("posts:single:1")
    assert found.outcome == FILL  # the new connection forced a re-verification
    assert found.record is None


def test_restart_empty_is_safe(redis_server, journal, clock):
    core = redis_core(redis_server.url, journal, clock)
    fill_value(core, "k", b"v1", [])
    epoch = core.trusted_epoch()
    redis_server.restart(from_snapshot=False)
    assert core.lookup("k").outcome == FILL
    assert core.trusted_epoch() != epoch


def test_lease_expiry_rechecks_journal_without_reconnect(redis_server, engine, journal, clock):
    reader = redis_core(redis_server.url, journal, clock)
    fill_value(reader, "k", b"v1", ["t"])
    # A write whose invalidation never reached Redis (its process died).
    commit_write(engine, journal, ["t"])
    assert reader.lookup("k").outcome == HIT  # still within the lease
    clock.advance(reader.trust_lease)
    assert reader.lookup("k").outcome == FILL  # renewed: replayed, then missed
    assert journal.pending() == []


def test_unreadable_journal_means_bypass(redis_server, engine, journal, clock):
    core = redis_core(redis_server.url, journal, clock)
    fill_value(core, "k", b"v1", [])
    engine.dispose()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE cache_outbox")
    clock.advance(core.trust_lease)
    assert core.lookup("k").outcome == BYPASS


def test_dead_redis_costs_one_timeout_then_nothing(redis_server, journal, clock):
    from flask_response_cache.breaker import CircuitBreaker
    from flask_response_cache.core import CacheCore
    from flask_response_cache.storage.redis import RedisStorage

    from redis_link import build_client

    storage = RedisStorage(build_client(redis_server.url, 0.25), breaker=CircuitBreaker())
    core = CacheCore(storage, journal=journal)
    core.lookup("warm")
    redis_server.pause()
    try:
        started = time.perf_counter()
        assert core.lookup("k").outcome == BYPASS
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(50):
            assert core.lookup("k").outcome == BYPASS
        rest = (time.perf_counter() - started) / 50
    finally:
        redis_server.resume()
    assert first < 1.0
    assert rest < 0.005


def test_a_peeked_miss_goes_straight_to_the_lock_and_sees_a_concurrent_fill(core_factory):
    core = core_factory()
    peeked, _ = core.peek("n")
    assert peeked.outcome == "miss" and peeked.epoch
    fill_value(core, "n", b"filled meanwhile", [])  # another worker, after our peek
    found = core.lookup("n", peeked=peeked)
    assert found.outcome == HIT and found.detail == "coalesced"
    assert found.record.payload == b"filled meanwhile"


def test_a_peek_from_another_epoch_is_not_trusted(core_factory):
    core = core_factory()
    fill_value(core, "n", b"v", [])
    stale_peek, _ = core.peek("absent")
    stale_peek.epoch = "some-older-epoch"
    stale_peek.outcome = "miss"
    # Under another epoch the peek proves nothing: the entry is read again (a plain HIT).
    found = core.lookup("n", peeked=stale_peek)
    assert found.outcome == HIT and found.detail == ""


def test_a_claiming_peek_of_an_absent_name_carries_the_fill_to_the_lookup(
    redis_server, journal, clock
):
    core = redis_core(redis_server.url, journal, clock)
    peeked, _ = core.peek("n", claim=True)
    assert peeked.outcome == "miss" and peeked.fill is not None and peeked.fill.locked
    # Another worker's claim finds the lock taken: it would wait, not compute.
    rival = core.peek("n", claim=True)[0]
    assert rival.outcome == "miss" and rival.fill is None
    found = core.lookup("n", peeked=peeked)
    assert found.outcome == FILL and found.fill is peeked.fill
    assert core.complete(found.fill, b"v", FRESH, ["post:1"]) == "ok"
    assert not peeked.fill.locked
    assert core.peek("n", claim=True)[0].outcome == HIT  # stored and unlocked


def test_a_claiming_peek_closes_the_stale_set_race_like_a_lookup(
    redis_server, journal, clock, engine
):
    core = redis_core(redis_server.url, journal, clock)
    peeked, _ = core.peek("posts:single:1", claim=True)
    assert peeked.fill is not None
    seq = commit_write(engine, journal, ["post:1"])
    assert core.invalidate_recorded(seq, ["post:1"])
    # The snapshot was read with the lock, before the write: the old value is refused.
    assert core.complete(peeked.fill, b"old", FRESH, ["post:1"]) == STALE


def test_a_claiming_peek_of_a_stored_name_takes_no_lock(redis_server, journal, clock):
    core = redis_core(redis_server.url, journal, clock)
    fill_value(core, "n", b"v", [])
    found, _ = core.peek("n", claim=True)
    assert found.outcome == HIT and found.fill is None
    clock.advance(FRESH.ttl + 1)  # expired but still kept: a MISS that Flask claims itself
    found, _ = core.peek("n", claim=True)
    assert found.outcome == "miss" and found.fill is None


def test_a_claiming_peek_survives_a_server_that_lost_its_scripts(redis_server, journal, clock):
    core = redis_core(redis_server.url, journal, clock)
    core.peek("warm-up", claim=True)[0]
    redis_server.client().script_flush()  # what a restart or a failover does to scripts
    found, _ = core.peek("n", claim=True)
    assert found.outcome == "miss" and found.fill is not None and found.fill.locked
