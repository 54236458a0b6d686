# mypy: allow-untyped-defs, allow-incomplete-defs
"""The SQLAlchemy adapters: the durable journal joins the write's transaction and makes an
invalidation survive a Redis outage for every process; toggles in SQL reach every process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_response_cache import JournalUnavailable, ResponseCache, RouteToggle, cache_response
from flask_response_cache.contrib.sqlalchemy import (
    SqlJournal,
    SqlToggleStore,
    journal_table,
    toggle_table,
)
from flask_response_cache.state import state_for
from sqlalchemy.orm import Session


@pytest.fixture
def database(tmp_path: Path) -> tuple[sa.Engine, sa.Table, sa.Table]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    metadata = sa.MetaData()
    outbox, toggles = journal_table(metadata), toggle_table(metadata)
    metadata.create_all(engine)
    return engine, outbox, toggles


def test_a_recorded_entry_commits_or_rolls_back_with_the_write(database):
    engine, outbox, _ = database
    journal = SqlJournal(engine, outbox)
    with Session(engine) as session:
        kept = journal.record(session, ["post:1"])
        session.commit()
    with Session(engine) as session:
        journal.record(session, ["post:2"])
        session.rollback()
    assert journal.pending() == [(kept, ("post:1",))]
    journal.mark_applied([kept])
    assert journal.pending() == [] and journal.max_applied() == kept


def test_an_unreadable_journal_says_so(tmp_path: Path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    journal = SqlJournal(engine, journal_table(sa.MetaData()))  # its table was never created
    with pytest.raises(JournalUnavailable):
        journal.pending()
    with pytest.raises(JournalUnavailable):
        journal.record_now(["x"])


def app_on(url: str, engine: sa.Engine, outbox: sa.Table) -> tuple[Flask, ResponseCache]:
    app = Flask("journaled")
    app.config.update(
        TESTING=True, RESPONSE_CACHE_REDIS_URL=url, RESPONSE_CACHE_BREAKER_PROBE_INTERVAL=0.05
    )
    cache = ResponseCache(app, journal=SqlJournal(engine, outbox))
    app.version = 1  # type: ignore[attr-defined]

    @app.get("/post")
    @cache_response(ttl=60, scope="public", tags=["post"])
    def post() -> dict[str, Any]:
        return {"version": app.version}  # type: ignore[attr-defined]

    return app, cache


def test_a_write_made_while_redis_was_down_is_seen_by_every_process(redis_server, database):
    engine, outbox, _ = database
    writer, cache = app_on(redis_server.url, engine, outbox)
    reader, _ = app_on(redis_server.url, engine, outbox)  # another process, same journal
    for app in (writer, reader):
        app.test_client().get("/post")
    assert reader.test_client().get("/post").headers["X-Cache"] == "HIT"
    redis_server.save_snapshot()
    redis_server.kill()
    with Session(engine) as session:  # the write and its invalidation, one commit
        entry = SqlJournal(engine, outbox).record(session, ["post"])
        session.commit()
    writer.version = reader.version = 2  # type: ignore[attr-defined]
    with writer.app_context():
        assert cache.invalidate_tags("post", recorded=entry) is False  # pending, no raise
    redis_server.restart(from_snapshot=True)  # the stale entry is back in Redis
    deadline = time.monotonic() + 5
    while True:
        answer = reader.test_client().get("/post")
        assert answer.get_json() == {"version": 2}, answer.headers.get("X-Cache")
        if answer.headers["X-Cache"] in ("HIT", "MISS") or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # polling a real server's recovery, not standing in for a clock
    assert answer.headers["X-Cache"] in ("HIT", "MISS")
    assert state_for(reader).core.journal.pending() == []


def test_toggles_in_sql_reach_every_process(database):
    engine, _, toggles = database
    store = SqlToggleStore(engine, toggles)
    assert store.shared and store.version() == 0 and store.load() == {}
    store.save("items", RouteToggle(enabled=False))
    store.save("items", RouteToggle(enabled=True, ttl=30))
    other = SqlToggleStore(engine, toggles)
    assert other.load() == {"items": RouteToggle(enabled=True, ttl=30)}
    assert other.version() > 1
