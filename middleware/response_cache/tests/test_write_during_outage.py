# mypy: allow-untyped-defs, allow-incomplete-defs
"""A write's invalidation while Redis is out, with a durable journal (rule 2 of core.py).

The write is acknowledged only once no process can still trust a store that lacks the
invalidation: normally after one trust lease. A dead server (connections refused) needs no
wait, because reaching its old entries takes a new connection, which ends every lease; a
hung one (accepts, never answers) still costs the lease. Real redis-server processes, a
real SQLite journal; the lease wait is measured on the injected clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_response_cache import CircuitBreaker, Layout, RedisStorage, connect_redis
from flask_response_cache.contrib.sqlalchemy import SqlJournal, journal_table
from frc_helpers import fake_time_core

# Timed in-process requests: no collection of the suite's heap inside them.
pytestmark = pytest.mark.usefixtures("steady_heap")

LEASE = 0.5


@pytest.fixture
def journal(tmp_path: Path) -> SqlJournal:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    metadata = sa.MetaData()
    outbox = journal_table(metadata)
    metadata.create_all(engine)
    return SqlJournal(engine, outbox)


@pytest.fixture
def parts(redis_server, journal, clock):
    breaker = CircuitBreaker(clock=clock, probe=lambda: None, background=False)
    storage = RedisStorage(connect_redis(redis_server.url), Layout("w"), breaker)
    core = fake_time_core(storage, clock, journal=journal, trust_lease=LEASE)
    return core, storage, breaker


def waited(core, clock, tags):
    before = clock()
    applied = core.invalidate(tags)
    return applied, clock() - before


def test_with_redis_up_the_write_applies_at_once(parts, clock):
    core, _, _ = parts
    assert waited(core, clock, ["post:1"]) == (True, 0.0)
    assert core.journal.pending() == []


def test_a_dead_redis_costs_the_write_no_lease_wait(parts, redis_server, clock):
    core, storage, breaker = parts
    redis_server.kill()
    applied, took = waited(core, clock, ["post:1"])  # the refusal trips the circuit
    assert (applied, took) == (False, 0.0)
    assert breaker.is_open and storage.known_down()
    assert waited(core, clock, ["post:2"]) == (False, 0.0)  # circuit open, still refused
    assert [tags for _, tags in core.journal.pending()] == [("post:1",), ("post:2",)]


def test_a_hung_redis_still_costs_the_write_one_lease(parts, redis_server, clock):
    core, storage, breaker = parts
    redis_server.pause()
    try:
        applied, took = waited(core, clock, ["post:1"])
        assert breaker.is_open and not storage.refuses_connections()
        assert (applied, took) == (False, LEASE)
        assert waited(core, clock, ["post:2"]) == (False, LEASE)
    finally:
        redis_server.resume()


def test_an_open_circuit_over_a_live_server_still_waits(parts, clock):
    """Open only in this process (say, one timeout too many): others may trust Redis."""
    core, storage, breaker = parts
    breaker.trip()
    assert storage.known_down() and not storage.refuses_connections()
    assert waited(core, clock, ["post:1"]) == (False, LEASE)


def test_refusal_is_never_claimed_for_a_cluster(tmp_path):
    """A cluster may serve the key from another node (a promoted replica): always wait."""
    from flask_response_cache.redis_client import LazyCluster
    from flask_response_cache.redis_url import parse_redis_url

    cluster = LazyCluster(parse_redis_url("redis+cluster://127.0.0.1:1/0"), 0.05, 2)
    assert RedisStorage(cluster, Layout("w")).refuses_connections() is False
