"""flask --app app init-db | seed | create-user, run through Flask's CLI test runner."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
import sqlalchemy as sa

import cli
from extensions import db
from models import Post, Tag, User, post_tags

SMALL = ["--users", "5", "--posts", "40", "--tags", "6"]


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def seeded_digest(app):
    """A digest of every seeded row (password hashes aside: argon2 salts are random)."""
    digest = hashlib.sha256()
    with app.app_context():
        queries = [
            sa.select(User.id, User.email, User.name, User.is_admin, User.created_at).order_by(
                User.id
            ),
            sa.select(Tag.id, Tag.name).order_by(Tag.id),
            sa.select(
                Post.id,
                Post.title,
                Post.body,
                Post.published,
                Post.created_at,
                Post.updated_at,
                Post.author_id,
            ).order_by(Post.id),
            sa.select(post_tags.c.post_id, post_tags.c.tag_id).order_by(
                post_tags.c.post_id, post_tags.c.tag_id
            ),
        ]
        for query in queries:
            for row in db.session.execute(query):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def login(app, email, password):
    return app.test_client().post("/api/v1/auth/login", json={"email": email, "password": password})


# --- init-db -----------------------------------------------------------------------------------


def test_init_db_is_idempotent_and_keeps_data(app, actions, database):
    actions.register(app.test_client())

    first = invoke(app, "init-db")
    second = invoke(app, "init-db")

    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert database.count("users") == 1


def test_init_db_creates_missing_tables(make_app):
    app = make_app()
    with app.app_context():
        db.drop_all()

    result = invoke(app, "init-db")

    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
    assert {"users", "posts", "tags", "post_tags"} <= tables


# --- seed --------------------------------------------------------------------------------------


def test_seed_inserts_the_requested_counts(app, database):
    result = invoke(app, "seed", *SMALL)

    assert result.exit_code == 0, result.output
    assert (database.count("users"), database.count("posts"), database.count("tags")) == (5, 40, 6)
    assert database.count("post_tags") == 40 * 3
    assert cli.DEMO_PASSWORD in result.output


def test_seed_is_deterministic_across_fresh_databases(make_app, tmp_path):
    """Same rows every time, and the same on PostgreSQL as on SQLite."""
    first = make_app()
    sqlite = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'second.db'}",
        SQLALCHEMY_ENGINE_OPTIONS={},
    )

    assert invoke(first, "seed", *SMALL).exit_code == 0
    assert invoke(sqlite, "seed", *SMALL).exit_code == 0

    assert seeded_digest(first) == seeded_digest(sqlite)


def test_seed_changes_with_its_arguments(make_app, tmp_path):
    first = make_app()
    other = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'other.db'}",
        SQLALCHEMY_ENGINE_OPTIONS={},
    )

    invoke(first, "seed", *SMALL)
    invoke(other, "seed", "--users", "5", "--posts", "41", "--tags", "6")

    assert seeded_digest(first) != seeded_digest(other)


def test_seed_refuses_a_database_that_has_users(app, actions, database):
    actions.register(app.test_client())
    before = database.snapshot()

    result = invoke(app, "seed", *SMALL)

    assert result.exit_code != 0
    assert "not empty" in result.output
    assert database.snapshot() == before


def test_seed_if_empty_skips_a_non_empty_database_quietly(app, actions, database):
    actions.register(app.test_client())
    before = database.snapshot()

    result = invoke(app, "seed", *SMALL, "--if-empty")

    assert result.exit_code == 0, result.output
    assert database.snapshot() == before


def test_seed_if_empty_seeds_an_empty_database(app, database):
    result = invoke(app, "seed", *SMALL, "--if-empty")

    assert result.exit_code == 0, result.output
    assert database.count("posts") == 40


def test_seeding_twice_refuses_the_second_time(app, database):
    assert invoke(app, "seed", *SMALL).exit_code == 0

    assert invoke(app, "seed", *SMALL).exit_code != 0
    assert database.count("posts") == 40


@pytest.mark.parametrize("option", [["--users", "0"], ["--users", "-1"], ["--posts", "-1"]])
def test_seed_rejects_impossible_counts(app, database, option):
    result = invoke(app, "seed", *SMALL, *option)

    assert result.exit_code == 2  # click's usage error, not a traceback
    assert database.count("users") == 0


def test_demo_users_log_in_with_the_documented_password(app):
    invoke(app, "seed", *SMALL)

    response = login(app, "user1@example.com", cli.DEMO_PASSWORD)

    assert response.status_code == 200
    assert response.get_json() == {"id": 1, "email": "user1@example.com", "name": "User 1"}
    assert login(app, "user5@example.com", cli.DEMO_PASSWORD).status_code == 200
    assert login(app, "user1@example.com", "wrong-password").status_code == 401


def test_seeded_posts_are_served_by_the_api(app):
    invoke(app, "seed", *SMALL)
    client = app.test_client()

    body = client.get("/api/v1/posts?limit=100").get_json()

    assert 0 < body["meta"]["total"] <= 40
    assert all(post["published"] for post in body["data"])
    assert all(len(post["tags"]) == 3 for post in body["data"])
    created = [post["created_at"] for post in body["data"]]
    assert created == sorted(created, reverse=True)


def test_new_rows_after_seeding_get_fresh_ids(app, actions):
    """PostgreSQL: the sequences are moved past the explicit seeded ids."""
    invoke(app, "seed", *SMALL)

    client = actions.signed_in("new@example.com", "New")
    post = actions.create_post(client, tags=["brand-new"])

    assert client.get("/api/v1/auth/me").get_json()["id"] == 6
    assert post["id"] == 41
    assert post["tags"][0]["id"] == 7


def test_default_seed_has_the_documented_shape(app):
    result = invoke(app, "seed")
    assert result.exit_code == 0, result.output

    with app.app_context():
        users = db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()
        tags = db.session.execute(sa.select(sa.func.count()).select_from(Tag)).scalar_one()
        ids, published, lengths = zip(
            *db.session.execute(
                sa.select(Post.id, Post.published, sa.func.length(Post.body)).order_by(Post.id)
            ),
            strict=True,
        )
        per_post = Counter(
            post_id for (post_id,) in db.session.execute(sa.select(post_tags.c.post_id))
        )
        admins = db.session.scalars(sa.select(User.id).where(User.is_admin)).all()

    assert users == 200
    assert tags == 50
    assert list(ids) == list(range(1, 10_001))
    assert 0.88 <= sum(published) / len(published) <= 0.92
    assert set(per_post.values()) == {3} and len(per_post) == 10_000
    assert 450 <= sum(lengths) / len(lengths) <= 550
    assert min(lengths) >= 400
    assert admins == [1]


# --- create-user -------------------------------------------------------------------------------


def test_create_user_admin_can_log_in(app):
    result = invoke(
        app, "create-user", "--email", "Root@Example.com", "--name", "Root",
        "--password", "admin-password", "--admin",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert login(app, "root@example.com", "admin-password").status_code == 200
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == "root@example.com")).one()
        assert user.is_admin is True


def test_create_user_without_admin_flag_is_not_admin(app):
    invoke(app, "create-user", "--email", "a@example.com", "--name", "A", "--password", "password1")

    with app.app_context():
        assert db.session.scalars(sa.select(User.is_admin)).one() is False


def test_create_user_with_a_taken_email_fails_cleanly(app, database):
    args = ["create-user", "--email", "a@example.com", "--name", "A", "--password", "password1"]
    invoke(app, *args)
    before = database.snapshot()

    result = invoke(app, *[arg.upper() if "@" in arg else arg for arg in args])

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert database.snapshot() == before


@pytest.mark.parametrize(
    "email, name, password",
    [
        ("a@example.com", "A", "short"),
        ("a@example.com", "A", "p" * 257),
        ("not-an-email", "A", "password1"),
        ("a@example.com", "", "password1"),
        ("a@example.com", "   ", "password1"),
        ("a@example.com", "n" * 101, "password1"),
    ],
)
def test_create_user_validates_like_registration(app, database, email, name, password):
    result = invoke(app, "create-user", "--email", email, "--name", name, "--password", password)

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert database.count("users") == 0
