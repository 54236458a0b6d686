"""Fixtures for the cache core: a real journal on SQLite, real Redis, a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask_response_cache.contrib.sqlalchemy import SqlJournal
from flask_response_cache.core import CacheCore
from flask_response_cache.storage import MemoryStorage
from flask_response_cache.storage.redis import RedisStorage

from extensions import db
from models import cache_outbox
from redis_link import build_client
from tests.support.fake_clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    db.metadata.create_all(engine, tables=[cache_outbox])
    return engine


@pytest.fixture
def journal(engine: sa.Engine) -> SqlJournal:
    return SqlJournal(engine, cache_outbox)


def commit_write(engine: sa.Engine, journal: SqlJournal, tags: list[str]) -> int:
    """What a service does: the journal row commits with the data change."""
    with sa.orm.Session(engine) as session:
        row_id = journal.record(session, tags)
        session.commit()
    return row_id


def redis_core(url: str, journal: SqlJournal | None, clock: FakeClock, **kwargs) -> CacheCore:
    # The production client: short timeouts, no retries.
    storage = RedisStorage(build_client(url, timeout=0.25))
    return CacheCore(
        storage,
        journal=journal,
        clock=clock,
        monotonic=clock,
        sleep=clock.sleep,
        rng=lambda: 0.0,
        **kwargs,
    )


def memory_core(journal: SqlJournal | None, clock: FakeClock, **kwargs) -> CacheCore:
    return CacheCore(
        MemoryStorage(clock=clock),
        journal=journal,
        trust_lease=0.0,
        clock=clock,
        monotonic=clock,
        sleep=clock.sleep,
        rng=lambda: 0.0,
        **kwargs,
    )


@pytest.fixture
def plain_redis(redis_server) -> redis.Redis:
    return redis_server.client()
