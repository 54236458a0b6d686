"""Command-line tools: ``flask --app app init-db|seed|create-user``.

``seed`` is deterministic: the same arguments give byte-identical data on
every run and every database (a fixed ``random.Random`` seed, fixed dates),
which the benchmark and the tests rely on. Demo users share the password in
``DEMO_PASSWORD`` so a newcomer can log in (e-mails ``user1@example.com`` ...).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import click
from flask import Flask
from marshmallow import ValidationError
from sqlalchemy import func, insert, select

from errors import ApiError
from extensions import db
from models import Post, Tag, User, post_tags
from schemas.auth import RegisterIn
from services import users
from services.passwords import hash_password

DEMO_PASSWORD = "demo-password"
SEED = 20240611
_PROSE = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco "
    "laboris nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate"
)
_WORDS = _PROSE.split()
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _sentence(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:length].strip().capitalize()


def seed_database(n_users: int = 200, n_posts: int = 10_000, n_tags: int = 50) -> None:
    """Insert demo data into an empty database (ids start at 1)."""
    rng = random.Random(SEED)
    # One hash for every demo user: they share a password, and hashing 200
    # times would add seconds to `make run` for nothing.
    demo_hash = hash_password(DEMO_PASSWORD)
    db.session.execute(
        insert(User),
        [
            {
                "id": i,
                "email": f"user{i}@example.com",
                "name": f"User {i}",
                "password_hash": demo_hash,
                "is_admin": i == 1,
                "session_version": 1,
                "created_at": _EPOCH,
            }
            for i in range(1, n_users + 1)
        ],
    )
    if n_tags:  # an INSERT with an empty parameter list is an error, not a no-op
        db.session.execute(
            insert(Tag), [{"id": i, "name": f"tag{i}"} for i in range(1, n_tags + 1)]
        )
    posts, links = [], []
    for i in range(1, n_posts + 1):
        created = _EPOCH + timedelta(minutes=i * 37 + rng.randrange(30))
        posts.append(
            {
                "id": i,
                "title": _sentence(rng, 40),
                "body": _sentence(rng, 500),
                "published": rng.random() < 0.9,
                "created_at": created,
                "updated_at": created,
                "author_id": rng.randrange(1, n_users + 1),
            }
        )
        for tag_id in rng.sample(range(1, n_tags + 1), min(3, n_tags)):
            links.append({"post_id": i, "tag_id": tag_id})
    for start in range(0, len(posts), 2000):
        db.session.execute(insert(Post), posts[start : start + 2000])
    for start in range(0, len(links), 5000):
        db.session.execute(insert(post_tags), links[start : start + 5000])
    db.session.commit()
    _reset_sequences()


def _reset_sequences() -> None:
    """PostgreSQL: explicit ids leave the sequences behind; move them past."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in ("users", "tags", "posts"):
        db.session.execute(
            db.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        )
    db.session.commit()


def ensure_schema() -> None:
    """Missing tables, then missing indexes of existing tables: ``create_all`` creates a
    table's indexes only with the table, and there are no migrations, so an index added
    later (``ix_posts_author_published_created``) reaches an older database here."""
    db.create_all()
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            index.create(db.engine, checkfirst=True)


def refresh_statistics() -> None:
    """Planner statistics after a bulk load, so the first queries use the indexes.

    PostgreSQL plans a fresh table blind until (auto)vacuum visits it; here the published
    count would scan the table (~3 ms) instead of the index (~1 ms). ``VACUUM`` cannot run
    in a transaction, hence the autocommit connection. SQLite: nothing (the indexes are
    chosen without statistics, ``ix_posts_author_published_created`` breaks the one tie).
    """
    db.session.commit()
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Create missing tables and indexes (idempotent)."""
        ensure_schema()
        click.echo("database ready")

    @app.cli.command("seed")
    @click.option("--users", "n_users", default=200, show_default=True, type=click.IntRange(1))
    @click.option("--posts", "n_posts", default=10_000, show_default=True, type=click.IntRange(0))
    @click.option("--tags", "n_tags", default=50, show_default=True, type=click.IntRange(0))
    @click.option("--if-empty", is_flag=True, help="Do nothing when users already exist.")
    def seed(n_users: int, n_posts: int, n_tags: int, if_empty: bool) -> None:
        """Insert deterministic demo data (the database must be empty)."""
        ensure_schema()
        existing = db.session.execute(select(func.count()).select_from(User)).scalar_one()
        if existing:
            if if_empty:
                click.echo(f"database already has {existing} users; not seeding")
                return
            raise click.ClickException("database is not empty; seed needs an empty database")
        seed_database(n_users, n_posts, n_tags)
        refresh_statistics()
        click.echo(
            f"seeded {n_users} users, {n_posts} posts, {n_tags} tags "
            f"(password for every demo user: {DEMO_PASSWORD})"
        )

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--password", required=True)
    @click.option("--admin", is_flag=True)
    def create_user(email: str, name: str, password: str, admin: bool) -> None:
        """Create a user (use --admin for the cache dashboard)."""
        # The same rules as POST /api/v1/auth/register.
        try:
            data = RegisterIn().load({"email": email, "name": name, "password": password})
        except ValidationError as error:
            problems = "; ".join(
                f"{field}: {' '.join(map(str, messages))}"
                for field, messages in error.normalized_messages().items()
            )
            raise click.ClickException(problems) from None
        ensure_schema()
        try:
            user = users.register(data["email"], data["name"], data["password"], is_admin=admin)
        except ApiError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"created user {user.id} <{user.email}>{' (admin)' if admin else ''}")
