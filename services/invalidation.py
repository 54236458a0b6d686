"""After-commit cache invalidation by tag.

Contract: ``commit_and_invalidate(tags)`` commits the current transaction and
then hands ``tags`` to every registered invalidator (the response cache and
the service cache register theirs). Invalidators run only after a successful
commit: invalidating before the commit would let a reader re-cache the old
row in between (cache-aside order, Microsoft's pattern and FB memcache).
Invalidators must not raise; each is responsible for keeping its invalidation
durable when its store is unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import current_app

from extensions import db

Invalidator = Callable[[Sequence[str]], None]

_KEY = "tag_invalidators"


def register_invalidator(app: object, invalidator: Invalidator) -> None:
    extensions = app.extensions  # type: ignore[attr-defined]
    extensions.setdefault(_KEY, []).append(invalidator)


def commit_and_invalidate(tags: Sequence[str]) -> None:
    db.session.commit()
    for invalidator in current_app.extensions.get(_KEY, []):
        invalidator(tags)
