"""Writes and cache invalidation, in the only safe order.

Contract of ``commit_and_invalidate(tags)``:
1. a journal row naming ``tags`` joins the caller's transaction;
2. the transaction commits (the data change and its invalidation together,
   or neither);
3. the invalidation is applied to the cache (both faces share one core, so
   HTTP responses and service values go together); if Redis is down, hung or
   restarting, the row stays pending and is replayed by whichever process
   next trusts the cache (see ``middleware.response_cache.core``).
Invalidating before the commit would let a reader re-cache the old row in
between (cache-aside order: Microsoft's pattern, FB memcache).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, current_app

from extensions import db
from middleware.response_cache.core import CacheCore
from services.cache_journal import SqlJournal


def register_cache_journal(app: Flask) -> None:
    with app.app_context():
        app.extensions["cache_journal"] = SqlJournal(db.engine)


def _core() -> CacheCore | None:
    core: CacheCore | None = current_app.extensions.get("cache_core")
    return core


def commit_and_invalidate(tags: Sequence[str]) -> None:
    journal: SqlJournal | None = current_app.extensions.get("cache_journal")
    core = _core()
    if journal is None or core is None:
        db.session.commit()
        return
    row_id = journal.record(db.session, tags)
    db.session.commit()
    core.invalidate_after_commit(row_id, tags)


def invalidate_tags(tags: Sequence[str]) -> None:
    """Invalidate outside any data change (operators, admin purge), durably."""
    commit_and_invalidate(tags)
