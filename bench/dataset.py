"""The deterministic dataset and the request mixes built from it (no network).

Contract:
- ``seed_sqlite(path)`` / ``seed_postgres(url)`` run ``flask --app app seed`` (200 users,
  10,000 posts, 50 tags; byte-identical every time) into a fresh database.
- ``published_order(db)`` lists published post ids in the API's list order (newest first:
  ``created_at`` then ``id``, both descending), read with stdlib ``sqlite3``.
- ``hit_urls``: 50 list pages (``page=1..50&limit=20``) and 200 random published posts, shuffled;
  ``miss_urls``: every published post and every list page for ``limit`` 15..25, shuffled, each
  URL once (the domain a miss run walks without repeating); ``list_urls``: the 50 list pages.
- ``Zipf``: a seeded Zipf(s) sampler over ranks ``0..n-1`` (rank 0 most popular).
Every mix takes an explicit seed, so two runs (and every peer within a run) see the same URLs.
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
import sqlite3
import subprocess
from collections.abc import Sequence
from pathlib import Path

LIST_LIMIT = 20
LIST_PAGES = 50
SINGLE_POSTS = 200
MIX_SEED = 7
HEALTH_PATH = "/api/v1/posts?page=1&limit=1"  # never part of a mix: a peer's readiness probe


def list_path(page: int, limit: int = LIST_LIMIT) -> str:
    return f"/api/v1/posts?page={page}&limit={limit}"


def post_path(post_id: int) -> str:
    return f"/api/v1/posts/{post_id}"


def seed_database(root: Path, database_url: str, python_bin: Path) -> None:
    """``flask --app app seed`` against ``database_url`` (must be empty)."""
    env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development"}
    env.pop("REDIS_URL", None)
    flask = python_bin.parent / "flask"
    subprocess.run(
        [str(flask), "--app", "app", "seed"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def seed_sqlite(root: Path, path: Path, python_bin: Path) -> str:
    """A fresh seeded SQLite file at ``path``; returns its SQLAlchemy URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    seed_database(root, url, python_bin)
    return url


def published_order(db_path: Path) -> list[int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT id FROM posts WHERE published = 1 ORDER BY created_at DESC, id DESC"
        ).fetchall()
    return [int(r[0]) for r in rows]


def authors(db_path: Path) -> dict[int, int]:
    """post id -> author id."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        return {int(p): int(a) for p, a in conn.execute("SELECT id, author_id FROM posts")}


def hit_urls(published: Sequence[int], seed: int = MIX_SEED) -> list[str]:
    rng = random.Random(seed)
    urls = [list_path(page) for page in range(1, LIST_PAGES + 1)]
    urls += [post_path(pid) for pid in rng.sample(sorted(published), SINGLE_POSTS)]
    rng.shuffle(urls)
    return urls


def list_urls() -> list[str]:
    return [list_path(page) for page in range(1, LIST_PAGES + 1)]


def miss_urls(published: Sequence[int], seed: int = MIX_SEED) -> list[str]:
    """Each URL once: all published posts and the list pages for limits 15..25."""
    rng = random.Random(seed + 1)
    n = len(published)
    urls = [post_path(pid) for pid in sorted(published)]
    for limit in range(15, 26):
        if limit == LIST_LIMIT:
            continue  # the hit mix's pages: never requested by a miss run
        urls += [list_path(page, limit) for page in range(1, -(-n // limit) + 1)]
    rng.shuffle(urls)
    return urls


class Zipf:
    """Seeded Zipf sampler: P(rank k) is proportional to 1 / (k + 1) ** s."""

    def __init__(self, n: int, s: float, seed: int) -> None:
        if n < 1:
            raise ValueError("Zipf needs at least one item")
        weights = [1.0 / (k + 1) ** s for k in range(n)]
        self._cumulative = list(itertools.accumulate(weights))
        self._rng = random.Random(seed)

    def sample(self) -> int:
        point = self._rng.random() * self._cumulative[-1]
        return min(bisect.bisect_left(self._cumulative, point), len(self._cumulative) - 1)


def page_of(published: Sequence[int], post_id: int, limit: int = LIST_LIMIT) -> int:
    """The list page (``limit`` per page) on which ``post_id`` appears."""
    return published.index(post_id) // limit + 1
