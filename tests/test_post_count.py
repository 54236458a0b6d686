"""The published-post count the database keeps (models/post_count.py), on every backend.

Each test writes posts with plain SQL, as any writer could (the services, ``flask seed``, an
operator), and compares the kept row with a count of the posts.
"""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

import cli
from extensions import db
from models import Post, PostCount, User

COUNT = sa.select(sa.func.count()).select_from(Post).where(Post.published.is_(True))
KEPT = sa.select(PostCount.value).where(PostCount.name == "published")


def kept_and_counted() -> tuple[int | None, int]:
    return db.session.execute(KEPT).scalar_one_or_none(), db.session.execute(COUNT).scalar_one()


def add_author() -> int:
    author = User(email="writer@example.com", name="Writer", password_hash="x")
    db.session.add(author)
    db.session.commit()
    return int(author.id)


def insert(author_id: int, published: bool, n: int = 1) -> None:
    db.session.execute(
        sa.insert(Post),
        [{"title": "t", "body": "b", "published": published, "author_id": author_id}] * n,
    )


def test_a_new_database_keeps_zero(app):
    with app.app_context():
        assert kept_and_counted() == (0, 0)


def test_every_kind_of_write_keeps_the_count(app):
    rng = random.Random(7)
    with app.app_context():
        author = add_author()
        for step in range(80):
            ids = db.session.scalars(sa.select(Post.id)).all()
            action = rng.choice(["insert", "insert_many", "toggle", "same", "edit", "delete"])
            if action == "insert" or not ids:
                insert(author, rng.random() < 0.7)
            elif action == "insert_many":
                insert(author, rng.random() < 0.5, n=rng.randint(2, 5))
            elif action == "toggle":  # (un)publish several at once, in one statement
                chosen = rng.sample(ids, min(len(ids), 3))
                db.session.execute(
                    sa.update(Post).where(Post.id.in_(chosen)).values(published=~Post.published)
                )
            elif action == "same":  # published written, unchanged
                post_id = rng.choice(ids)
                current = db.session.execute(
                    sa.select(Post.published).where(Post.id == post_id)
                ).scalar_one()
                db.session.execute(
                    sa.update(Post).where(Post.id == post_id).values(published=current)
                )
            elif action == "edit":  # a change that does not touch published
                db.session.execute(
                    sa.update(Post).where(Post.id == rng.choice(ids)).values(title=f"{step}")
                )
            else:
                db.session.execute(sa.delete(Post).where(Post.id.in_(rng.sample(ids, 2))))
            # The writing transaction sees its own total before it commits...
            kept, counted = kept_and_counted()
            assert kept == counted, (step, action)
            if rng.random() < 0.2:
                db.session.rollback()  # ...and a rolled-back write leaves no trace
            else:
                db.session.commit()
            kept, counted = kept_and_counted()
            assert kept == counted, (step, action)
        assert counted > 0  # the walk did publish posts


def test_an_older_database_gets_the_count_from_init_db(app):
    """A database from before the counter: posts, no table, no triggers. ``init-db`` (that
    is, ``ensure_schema``) adds both and starts from a count of the posts."""
    with app.app_context():
        author = add_author()
        PostCount.__table__.drop(db.engine)
        for name in ("insert", "delete", "update"):
            trigger = f"post_counts_{name}"
            on = " ON posts" if db.engine.dialect.name == "postgresql" else ""
            db.session.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger}{on}"))
        insert(author, True, n=4)
        insert(author, False, n=2)
        db.session.commit()

        cli.ensure_schema()
        assert kept_and_counted() == (4, 4)

        insert(author, True)
        db.session.commit()
        assert kept_and_counted() == (5, 5)


def test_without_its_row_the_list_counts(app, actions):
    """No row means "not kept": the total is counted, and still right."""
    client = actions.signed_in()
    for _ in range(3):
        actions.create_post(client)
    with app.app_context():
        db.session.execute(sa.delete(PostCount))
        db.session.commit()

    body = app.test_client().get("/api/v1/posts").get_json()

    assert body["meta"]["total"] == 3


def test_postgres_truncate_keeps_zero(app, db_backend):
    if db_backend != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite's DELETE fires the row triggers")
    with app.app_context():
        insert(add_author(), True, n=3)
        db.session.commit()
        names = ", ".join(t.name for t in db.metadata.sorted_tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.session.commit()
        assert kept_and_counted() == (0, 0)
        insert(add_author(), True, n=2)
        db.session.commit()
        assert kept_and_counted() == (2, 2)
