"""The response cache's own tables, on this app's metadata (created by ``init-db``).

``cache_outbox`` is the invalidation journal: one row per committed write, inserted in
the write's own transaction, so an invalidation is exactly as durable as the write
(``flask_response_cache.contrib.sqlalchemy.SqlJournal``). ``cache_toggles`` keeps the
runtime toggles in embedded mode, where each worker has its own in-process cache
(``SqlToggleStore``). The package defines both; the app only places them.
"""

from __future__ import annotations

from flask_response_cache.contrib.sqlalchemy import journal_table, toggle_table

from extensions import db

cache_outbox = journal_table(db.metadata)
cache_toggles = toggle_table(db.metadata)
