"""Runtime toggles in the SQL database, for embedded mode.

Contract (``middleware.response_cache.toggles.ToggleStore``): in embedded mode
each gunicorn worker has its own in-process cache store, so toggles kept
there would reach one worker only. This store keeps them in the shared
database instead: ``version()`` is one indexed aggregate query (each process
asks at most every ``RESPONSE_CACHE_TOGGLE_REFRESH`` seconds), ``save``
upserts the row with a version above every existing one. The store's version
is the *sum* of the rows' versions: every committed save raises its row's
version, so the sum grows with each save even when two concurrent saves
chose the same number (a maximum would not move for the second one). Database errors
surface as ``StorageUnavailable`` so the last known toggles stay in force.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from middleware.response_cache.storage import StorageUnavailable
from middleware.response_cache.toggles import RouteToggle
from models import CacheToggle


class SqlToggleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def version(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.sum(CacheToggle.version))).scalar() or 0)
        except SQLAlchemyError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def load(self) -> dict[str, RouteToggle]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(CacheToggle.endpoint, CacheToggle.enabled, CacheToggle.ttl)
                ).all()
        except SQLAlchemyError as exc:
            raise StorageUnavailable(str(exc)) from exc
        return {endpoint: RouteToggle(enabled, ttl) for endpoint, enabled, ttl in rows}

    def save(self, endpoint: str, toggle: RouteToggle) -> None:
        try:
            with Session(self.engine) as session, session.begin():
                top = session.execute(select(func.max(CacheToggle.version))).scalar() or 0
                row = session.get(CacheToggle, endpoint)
                if row is None:
                    row = CacheToggle(endpoint=endpoint)
                    session.add(row)
                row.enabled = toggle.enabled
                row.ttl = toggle.ttl
                row.version = int(top) + 1
        except SQLAlchemyError as exc:
            raise StorageUnavailable(str(exc)) from exc
