"""SQLite connections: WAL journal, and connections to a broken file are not pooled again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.sqlite import configure_sqlite


def _engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    configure_sqlite(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    return engine


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one())


def test_a_file_database_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "app.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_a_connection_that_saw_a_broken_file_is_replaced_once_the_file_is_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    engine = _engine(path)
    assert _count(engine) == 1  # a pooled connection now exists
    checkpoint = sqlite3.connect(path)
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # page 1 back into the file
    checkpoint.close()
    with open(path, "r+b") as handle:
        header = handle.read(100)
        handle.seek(0)
        handle.write(b"\0" * 100)
    with pytest.raises(sa.exc.DatabaseError, match="file is not a database"):
        _count(engine)
    with open(path, "r+b") as handle:
        handle.write(header)
    # In WAL mode the connection that failed would keep failing; it was dropped instead.
    assert [_count(engine), _count(engine)] == [1, 1]
    engine.dispose()


def test_memory_databases_are_left_alone() -> None:
    engine = sa.create_engine("sqlite://")
    configure_sqlite(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
    engine.dispose()
