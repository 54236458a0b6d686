"""services.posts reads: the exact dicts they return, pinned on every database backend.

The read path is hand-tuned (prebuilt Core statements, positional rows); these tests pin its
output byte for byte (key order, value types, timestamp spelling) so that any further tuning
stays invisible to clients, and pin that its statements stay in SQLAlchemy's compiled cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine.default import CACHE_HIT

from errors import ApiError
from extensions import db
from models import Post, Tag, User, post_tags
from services import posts

T0 = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def app(make_app: Any) -> Flask:
    """The service cache is off: every call below runs the queries."""
    app: Flask = make_app(CACHE_ENABLED=False)
    return app


@pytest.fixture
def seeded(app: Flask) -> Iterator[dict[str, Any]]:
    """Two authors, tags created so that id order differs from name order, five posts."""
    with app.app_context():
        ann = User(email="ann@example.com", name="Ann", password_hash="x")
        bob = User(email="bob@example.com", name="Bob", password_hash="x")
        zeta, alpha, mid = Tag(name="zeta"), Tag(name="alpha"), Tag(name="mid")
        db.session.add_all([ann, bob, zeta, alpha, mid])
        db.session.flush()

        def post(author: User, title: str, created: datetime, published: bool = True) -> Post:
            row = Post(
                title=title,
                body=f"{title} body",
                published=published,
                author_id=author.id,
                created_at=created,
                updated_at=created + timedelta(hours=1),
            )
            db.session.add(row)
            db.session.flush()
            return row

        oldest = post(bob, "Oldest", T0 - timedelta(days=1))
        first = post(ann, "First", T0)
        # Same created_at: the later id comes first.
        tie_low = post(bob, "Tie low", T0 + timedelta(seconds=2))
        tie_high = post(ann, "Tie high", T0 + timedelta(seconds=2))
        draft = post(ann, "Draft", T0 + timedelta(days=1), published=False)
        oldest.created_at = oldest.updated_at = datetime(2023, 12, 31, tzinfo=UTC)  # no fraction
        links = [  # inserted out of tag id order on purpose
            (first, mid),
            (first, alpha),
            (first, zeta),
            (tie_low, alpha),
            (tie_high, mid),
            (draft, zeta),
        ]
        db.session.execute(
            sa.insert(post_tags), [{"post_id": p.id, "tag_id": t.id} for p, t in links]
        )
        db.session.commit()
        yield {
            "ann": ann.id,
            "bob": bob.id,
            "zeta": {"id": zeta.id, "name": "zeta"},
            "alpha": {"id": alpha.id, "name": "alpha"},
            "mid": {"id": mid.id, "name": "mid"},
            "oldest": oldest.id,
            "first": first.id,
            "tie_low": tie_low.id,
            "tie_high": tie_high.id,
            "draft": draft.id,
        }


def _expected(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every post as the API spells it, keys in the documented order."""
    ann = {"id": s["ann"], "name": "Ann"}
    bob = {"id": s["bob"], "name": "Bob"}
    return {
        "draft": {
            "id": s["draft"],
            "title": "Draft",
            "body": "Draft body",
            "published": False,
            "created_at": "2024-01-02T12:00:00.123456Z",
            "updated_at": "2024-01-02T13:00:00.123456Z",
            "author": ann,
            "tags": [s["zeta"]],
        },
        "tie_high": {
            "id": s["tie_high"],
            "title": "Tie high",
            "body": "Tie high body",
            "published": True,
            "created_at": "2024-01-01T12:00:02.123456Z",
            "updated_at": "2024-01-01T13:00:02.123456Z",
            "author": ann,
            "tags": [s["mid"]],
        },
        "tie_low": {
            "id": s["tie_low"],
            "title": "Tie low",
            "body": "Tie low body",
            "published": True,
            "created_at": "2024-01-01T12:00:02.123456Z",
            "updated_at": "2024-01-01T13:00:02.123456Z",
            "author": bob,
            "tags": [s["alpha"]],
        },
        "first": {
            "id": s["first"],
            "title": "First",
            "body": "First body",
            "published": True,
            "created_at": "2024-01-01T12:00:00.123456Z",
            "updated_at": "2024-01-01T13:00:00.123456Z",
            "author": ann,
            # Tag id order (zeta, alpha, mid were created in that order), not name order.
            "tags": [s["zeta"], s["alpha"], s["mid"]],
        },
        "oldest": {
            "id": s["oldest"],
            "title": "Oldest",
            "body": "Oldest body",
            "published": True,
            "created_at": "2023-12-31T00:00:00Z",
            "updated_at": "2023-12-31T00:00:00Z",
            "author": bob,
            "tags": [],
        },
    }


def _same(actual: Any, expected: Any) -> bool:
    """Equal as JSON bytes: key order and value types (``true`` vs ``1``) count too."""
    return orjson.dumps(actual) == orjson.dumps(expected)


def _page(names: list[str], s: dict[str, Any]) -> list[dict[str, Any]]:
    every = _expected(s)
    return [every[name] for name in names]


PUBLIC = ["tie_high", "tie_low", "first", "oldest"]


@pytest.mark.parametrize(
    ("page", "limit", "names"),
    [
        (1, 20, PUBLIC),
        (1, 2, PUBLIC[:2]),
        (2, 2, PUBLIC[2:]),
        (2, 3, PUBLIC[3:]),
        (3, 2, []),  # past the end: empty, total still counted
        (1000, 20, []),
    ],
)
def test_public_pages_are_exact(app, seeded, page, limit, names):
    with app.app_context():
        items, total = posts.list_posts(page, limit)

    assert total == 4
    assert _same(items, _page(names, seeded))


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({"author_id": "ann"}, ["tie_high", "first"]),
        ({"author_id": "bob"}, ["tie_low", "oldest"]),
        ({"tag": "alpha"}, ["tie_low", "first"]),
        ({"tag": "zeta"}, ["first"]),  # the draft tagged zeta stays hidden
        ({"tag": "alpha", "author_id": "bob"}, ["tie_low"]),
        ({"tag": "nope"}, []),
        ({"drafts_of": "ann"}, ["draft", "tie_high", "first"]),
        ({"drafts_of": "bob"}, ["tie_low", "oldest"]),
    ],
)
def test_filtered_lists_are_exact(app, seeded, filters, names):
    args = {key: seeded[value] if key != "tag" else value for key, value in filters.items()}
    with app.app_context():
        items, total = posts.list_posts(1, 20, **args)

    assert total == len(names)
    assert _same(items, _page(names, seeded))


def test_get_post_is_exact_and_hides_drafts(app, seeded):
    every = _expected(seeded)
    with app.app_context():
        for name in PUBLIC:
            assert _same(posts.get_post(seeded[name]), every[name])
        assert _same(posts.get_post(seeded["draft"], viewer_id=seeded["ann"]), every["draft"])
        for viewer in (None, seeded["bob"]):
            with pytest.raises(ApiError) as raised:
                posts.get_post(seeded["draft"], viewer_id=viewer)
            assert raised.value.code == 404
        with pytest.raises(ApiError):
            posts.get_post(seeded["draft"] + 1000)


def test_reads_see_the_sessions_own_unflushed_writes(app, seeded):
    """As an ORM query would (autoflush): a read after a write in one transaction sees it."""
    with app.app_context():
        post = db.session.get_one(Post, seeded["oldest"])
        post.title = "Renamed"
        db.session.add(
            Post(
                title="Pending",
                body="b",
                author_id=seeded["ann"],
                created_at=T0 + timedelta(days=2),
                updated_at=T0 + timedelta(days=2),
            )
        )

        items, total = posts.list_posts(1, 20)
        single = posts.get_post(seeded["oldest"])
        db.session.rollback()

    assert total == 5
    assert [item["title"] for item in items] == [
        "Pending",
        "Tie high",
        "Tie low",
        "First",
        "Renamed",
    ]
    assert single["title"] == "Renamed"


def test_read_statements_stay_in_the_compiled_cache(app, seeded):
    """Different values, same statements: no literal values baked into the SQL."""
    hits: list[Any] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        hits.append(context.cache_hit)

    with app.app_context():
        calls = [
            lambda: posts.list_posts(1, 2),
            lambda: posts.list_posts(1, 2, author_id=seeded["ann"], tag="zeta"),
            lambda: posts.list_posts(1, 2, drafts_of=seeded["bob"]),
            lambda: posts.get_post(seeded["first"]),
        ]
        for call in calls:  # first use compiles
            call()
        for other in (
            lambda: posts.list_posts(2, 2),
            lambda: posts.list_posts(1, 2, author_id=seeded["bob"], tag="alpha"),
            lambda: posts.list_posts(2, 2, drafts_of=seeded["ann"]),
            lambda: posts.get_post(seeded["tie_low"]),
        ):
            db.session.rollback()
            sa.event.listen(db.engine, "before_cursor_execute", record)
            try:
                other()
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", record)

    assert hits and all(hit is CACHE_HIT for hit in hits), hits
