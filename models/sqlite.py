"""How the app's SQLite connections are set up (file databases only; PostgreSQL is untouched).

Contract of ``configure_sqlite(engine)``, called once per engine by ``models.init_database``:

* **WAL journal.** Every new connection asks for ``journal_mode=WAL`` (persistent in the file;
  a no-op once set). gunicorn runs several worker processes on one file: in the default
  rollback journal a commit locks readers out and costs several fsyncs, so under writes the
  workers queue on the file lock; in WAL readers never wait for the writer and a commit is one
  append + fsync (``synchronous`` stays FULL: an acknowledged write survives a power cut).
  WAL needs a local filesystem (its shared-memory index does not work over NFS).
* **Broken files drop their connections.** A connection that got "file is not a database",
  "database disk image is malformed" or a disk I/O error is invalidated (treated like a lost
  server connection) instead of going back to the pool: in WAL mode such a connection stays
  broken even after the file is repaired, so keeping it would turn a transient fault into
  errors until the worker restarts. The request that hit it still fails (503, see
  ``errors.py``); the next one opens a fresh connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

# Messages of errors after which a SQLite connection cannot be trusted again.
BROKEN_FILE = ("file is not a database", "database disk image is malformed", "disk i/o error")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError:
        pass  # a broken file: the first real query reports it (and drops the connection)
    finally:
        cursor.close()


def _on_error(context: ExceptionContext) -> None:
    original = context.original_exception
    if isinstance(original, sqlite3.DatabaseError) and any(
        text in str(original).lower() for text in BROKEN_FILE
    ):
        context.is_disconnect = True


def configure_sqlite(engine: Engine) -> None:
    if not is_sqlite(engine) or engine.url.database in (None, "", ":memory:"):
        return
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "handle_error", _on_error)
