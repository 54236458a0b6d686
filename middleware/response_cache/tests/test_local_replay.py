# mypy: allow-untyped-defs, allow-incomplete-defs
"""Per-process stores kept consistent through a durable journal (embedded deployments):
each process replays the other processes' invalidations, the journal stays bounded, and a
process that slept past the journal's retention starts afresh instead of trusting entries
it may have missed invalidations of."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_response_cache import Freshness, MemoryStorage
from flask_response_cache.contrib.sqlalchemy import SqlJournal, journal_table
from frc_helpers import fake_time_core


@pytest.fixture
def journal(tmp_path: Path) -> SqlJournal:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'journal.db'}")
    metadata = sa.MetaData()
    table = journal_table(metadata)
    metadata.create_all(engine)
    return SqlJournal(engine, table, retention=timedelta(minutes=10))


def worker(journal, clock):
    return fake_time_core(MemoryStorage(clock=clock), clock, journal=journal)


def cache(core, name):
    found = core.lookup(name)
    assert found.fill is not None
    core.complete(found.fill, b"old", Freshness(3600), ["t"])
    assert core.lookup(name).outcome == "hit"


def test_another_process_replays_an_invalidation_and_the_row_counts_as_applied(journal, clock):
    a, b = worker(journal, clock), worker(journal, clock)
    cache(a, "x")
    cache(b, "x")
    assert b.invalidate(["t"]) is True
    assert b.lookup("x").outcome == "fill"
    assert a.lookup("x").outcome == "fill"  # replayed from the journal before believing it
    assert journal.pending() == []  # marked applied: prunable, and the stats say 0 pending


def test_a_process_that_slept_past_the_retention_starts_afresh(journal, clock):
    a = worker(journal, clock)
    cache(a, "x")
    clock.advance(journal.retention_seconds + 1)
    found = a.lookup("x")
    assert found.outcome == "fill"  # its entry may have missed a pruned invalidation
    if found.fill is not None:
        a.abandon(found.fill)


def test_a_new_process_does_not_replay_the_whole_journal(journal, clock, monkeypatch):
    writer = worker(journal, clock)
    for n in range(5):
        writer.invalidate([f"old:{n}"])
    an_hour_ago = sa.func.datetime("now", "-1 hour")  # the rows' own clock is the database's
    with journal.engine.begin() as conn:
        conn.execute(sa.update(journal.table).values(created_at=an_hour_ago))
    newcomer = worker(journal, clock)
    applied: list[list[str]] = []
    original = newcomer.storage.invalidate

    def recording(epoch, tags, seq):
        applied.append(list(tags))
        return original(epoch, tags, seq)

    monkeypatch.setattr(newcomer.storage, "invalidate", recording)
    newcomer.lookup("anything")
    assert applied == []  # its store is empty: nothing to invalidate
