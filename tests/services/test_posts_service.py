"""services.posts: query cost, visibility, tag handling and author-only writes, below HTTP."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from errors import ApiError
from extensions import db
from models import Post, Tag, User, post_tags
from services import posts

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def app(make_app):
    """The service cache is off: these tests count and inspect real queries."""
    return make_app(CACHE_ENABLED=False)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def ann(ctx):
    return _user("ann@example.com", "Ann")


@pytest.fixture
def bob(ctx):
    return _user("bob@example.com", "Bob")


def _user(email, name):
    user = User(email=email, name=name, password_hash="x")
    db.session.add(user)
    db.session.commit()
    return user.id


@contextmanager
def counted_statements():
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def test_list_costs_three_queries_whatever_the_page_size(app, database, ann, bob):
    database.insert_posts(ann, 30, tags=("a", "b", "c"))
    database.insert_posts(bob, 30, tags=("c", "d"))

    posts.list_posts(1, 1)  # first use: the cache layer's one-off start-up checks
    for limit in (5, 60):
        db.session.expire_all()
        with counted_statements() as statements:
            items, total = posts.list_posts(1, limit)
        assert (len(items), total) == (min(limit, 60), 60)
        assert len(statements) == 3, statements
        assert all(len(item["tags"]) in (2, 3) for item in items)


def test_list_orders_by_created_at_then_id_descending(database, ann):
    first, second, third = database.insert_posts(ann, 3)
    for post_id in (first, second, third):
        database.set_times(post_id, T0)

    items, _ = posts.list_posts(1, 10)

    assert [item["id"] for item in items] == [third, second, first]


def test_list_includes_drafts_only_for_drafts_of(database, ann, bob):
    [published] = database.insert_posts(ann, 1)
    [draft] = database.insert_posts(ann, 1, published=False, start=T0.replace(year=2025))
    database.insert_posts(bob, 1, published=False)

    public, public_total = posts.list_posts(1, 10)
    own, own_total = posts.list_posts(1, 10, drafts_of=ann)

    assert ([item["id"] for item in public], public_total) == ([published], 1)
    assert ([item["id"] for item in own], own_total) == ([draft, published], 2)


def test_drafts_of_overrides_an_author_filter(database, ann, bob):
    database.insert_posts(bob, 2)

    items, total = posts.list_posts(1, 10, author_id=bob, drafts_of=ann)

    assert (items, total) == ([], 0)


def test_get_post_reveals_a_draft_to_its_author_only(database, ann, bob):
    [draft] = database.insert_posts(ann, 1, published=False)

    assert posts.get_post(draft, viewer_id=ann)["id"] == draft
    for viewer in (None, bob):
        with pytest.raises(ApiError) as raised:
            posts.get_post(draft, viewer_id=viewer)
        assert (raised.value.code, raised.value.message) == (404, "Post not found")


def test_create_commits_and_dedupes_trimmed_tags(app, ann):
    created = posts.create_post(ann, "T", "B", tags=["x", " x ", "y", "x"])

    assert [tag["name"] for tag in created["tags"]] == ["x", "y"]
    with db.engine.connect() as other_connection:  # visible outside this session: committed
        names = other_connection.execute(sa.select(Tag.name).order_by(Tag.id)).scalars().all()
    assert names == ["x", "y"]


def test_create_reuses_existing_tags(ann, bob):
    first = posts.create_post(ann, "T", "B", tags=["shared"])
    second = posts.create_post(bob, "T", "B", tags=["shared", "new"])

    assert second["tags"][0] == first["tags"][0]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Tag)).scalar_one() == 2


def test_update_replaces_tags_and_leaves_other_fields(ann):
    post = posts.create_post(ann, "Title", "Body", tags=["a", "b"])

    updated = posts.update_post(post["id"], ann, {"tags": ["b", "c"]})

    assert {tag["name"] for tag in updated["tags"]} == {"b", "c"}
    assert (updated["title"], updated["body"], updated["published"]) == ("Title", "Body", True)
    assert updated["updated_at"] >= post["updated_at"]


def test_an_edit_reads_the_row_writes_it_and_reads_the_answer(ann):
    """The post's author and state; the change and its journal row (one commit); the
    answer and its tags. No ORM object loaded (its author and tags came along), flushed
    or refreshed after the commit: each cost a query."""
    post = posts.create_post(ann, "Title", "Body", tags=["a"])
    db.session.remove()  # a new request: nothing in the identity map

    with counted_statements() as statements:
        updated = posts.update_post(post["id"], ann, {"title": "New"})

    assert updated["title"] == "New" and [t["name"] for t in updated["tags"]] == ["a"]
    kinds = [s.split()[0].upper() for s in statements]
    # The cache is off here: the journal row stays pending (replayed when it is back on).
    assert kinds == ["SELECT", "UPDATE", "INSERT", "SELECT", "SELECT"], statements


@pytest.mark.parametrize("action", ["update", "delete"])
def test_only_the_author_may_write(ann, bob, action):
    post = posts.create_post(ann, "T", "B")

    with pytest.raises(ApiError) as raised:
        if action == "update":
            posts.update_post(post["id"], bob, {"title": "stolen"})
        else:
            posts.delete_post(post["id"], bob)

    assert raised.value.code == 403
    assert posts.get_post(post["id"])["title"] == "T"


def test_delete_of_a_tagged_post_removes_its_links(ann):
    post = posts.create_post(ann, "T", "B", tags=["a", "b", "c"])

    posts.delete_post(post["id"], ann)

    assert db.session.get(Post, post["id"]) is None
    links = db.session.execute(sa.select(sa.func.count()).select_from(post_tags)).scalar_one()
    assert links == 0
    with pytest.raises(ApiError):
        posts.get_post(post["id"], viewer_id=ann)


def test_missing_post_is_404_for_every_operation(ann):
    for call in (
        lambda: posts.get_post(404),
        lambda: posts.update_post(404, ann, {"title": "x"}),
        lambda: posts.delete_post(404, ann),
    ):
        with pytest.raises(ApiError) as raised:
            call()
        assert (raised.value.code, raised.value.message) == (404, "Post not found")


def test_write_tags_name_every_cache_entry_the_write_can_affect():
    assert posts.tags_for_write(42, 7) == ["posts", "post:42", "user:7"]


def test_naive_datetimes_are_refused_by_the_model(ann):
    db.session.add(
        Post(title="t", body="b", author_id=ann, created_at=datetime(2024, 1, 1), updated_at=T0)
    )

    with pytest.raises(sa.exc.StatementError):
        db.session.flush()
    db.session.rollback()
