"""Writes and cache invalidation, in the only safe order.

Contract of ``commit_and_invalidate(tags)``:
1. a journal row naming ``tags`` joins the caller's transaction (the package's
   ``SqlJournal.record``);
2. the transaction commits (the data change and its invalidation together,
   or neither);
3. the invalidation is applied to the cache (responses and values share one core);
   if Redis is down, hung or restarting, the row stays pending and is replayed by
   whichever process next trusts the cache, and no process trusts the cache until
   then (``flask_response_cache`` core, rule 2). It never raises because of Redis.
Invalidating before the commit would let a reader re-cache the old row in
between (cache-aside order: Microsoft's pattern, FB memcache).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from flask_response_cache.contrib.sqlalchemy import SqlJournal

from cache import JOURNAL_KEY
from extensions import db, response_cache


def commit_and_invalidate(tags: Sequence[str]) -> None:
    journal: SqlJournal = current_app.extensions[JOURNAL_KEY]
    entry = journal.record(db.session, tags)
    db.session.commit()
    response_cache.invalidate_tags(*tags, recorded=entry)


def invalidate_tags(tags: Sequence[str]) -> None:
    """Invalidate outside any data change (operators, admin purge), durably."""
    response_cache.invalidate_tags(*tags)
