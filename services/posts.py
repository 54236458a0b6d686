"""Posts: lean reads serialised straight to dicts, and author-only writes.

Contract:
- ``list_posts`` returns ``(items, total)``: newest first (``created_at`` then
  ``id``, both descending), published only unless ``drafts_of`` names the
  author whose drafts are included. Three queries whatever the page size
  (total, page joined to author, tags of the page): no N+1. The unfiltered
  list reads its total from the row the database keeps (``models.post_count``),
  filtered ones count.
- ``get_post`` returns the post dict, or raises ``ApiError(404)`` when it is
  missing or is a draft and the viewer is not its author (a draft's existence
  is not revealed).
- Reads go through the service cache (``services.cache``) under the recipe's
  keys: ``posts:list:page=1:limit=20`` (with ``author=``/``tag=`` filters),
  ``users:7:posts:page=1:limit=20`` and ``posts:single:42``. A public list is
  tagged ``posts`` and ``post:<id>`` of each post it shows (its HTTP entry too,
  through ``services.cache.depends_on``); a user's own list ``user:<id>``; a
  single post ``post:<id>``.
- Writes commit, then run the registered after-commit hooks with the tags the
  write affected (``post:<id>``, ``user:<author_id>``, and ``posts`` when list
  pages can gain, lose or reorder posts: create, delete, (un)publish, tag
  changes; ``tags_for_write``) so caches can invalidate; see
  ``services.invalidation``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from cache import invalidation
from cache import service as service_cache
from errors import ApiError
from extensions import db
from models import Post, PostCount, Tag, User, post_tags
from models.post_count import PUBLISHED
from models.types import utcnow
from schemas.json import iso_utc

PostDict = dict[str, Any]
# SQLAlchemy 2.1's Select is variadic over its column types.
AnySelect = Select[*tuple[Any, ...]]

# Service-cache lifetimes, as in the original recipe.
LIST_TTL = 60
SINGLE_TTL = 300


def tags_for_write(post_id: int, author_id: int, lists_change: bool = True) -> list[str]:
    """Every cache tag a change to this post can affect.

    ``posts`` (every list) only when the change can move posts between or within list
    pages (``lists_change``: a post created or deleted, published or unpublished, its
    tags changed, which the ``tag`` filter reads). A change of what the post shows
    (title, body) reaches the lists that show it through ``post:<id>``: each list entry
    carries the tags of the posts on it (``_page_tags``)."""
    tags = [f"post:{post_id}", f"user:{author_id}"]
    return ["posts", *tags] if lists_change else tags


def _page_tags(page: list[Any]) -> list[str]:
    """The tags a public list entry depends on: every list, and each post it shows."""
    return ["posts", *(f"post:{item['id']}" for item in page[0])]


# --- Reads ----------------------------------------------------------------------------------
# The uncached read path runs on every cache miss (and always with the cache off), so it is
# kept lean: each statement is built once per filter shape with named bind parameters (its
# SQLAlchemy cache key is memoised on the object and its compiled form is cached per dialect),
# executed on the session's Core connection (same transaction as the ORM, so a request reads
# its own writes, without the ORM's per-statement execute/loading layers), and its rows are
# unpacked positionally into the response dicts.

_NEWEST_FIRST = (Post.created_at.desc(), Post.id.desc())

# Columns of a post dict, in ``_row_to_dict``'s positional order.
_SELECT_POSTS = select(
    Post.id,
    Post.title,
    Post.body,
    Post.published,
    Post.created_at,
    Post.updated_at,
    User.id.label("author_id"),
    User.name.label("author_name"),
).join(User, User.id == Post.author_id)

_SELECT_ONE = _SELECT_POSTS.where(Post.id == bindparam("post_id", type_=Integer))


@functools.lru_cache(maxsize=128)  # page sizes: 1..100 through the API
def _tags_statement(count: int) -> AnySelect:
    """Tags of ``count`` posts (binds ``p0``..): one statement per page size, its SQL rendered
    once, where an expanding ``IN`` re-renders its SQL on every execution (~15 us a page)."""
    post_ids = [bindparam(f"p{i}", type_=Integer) for i in range(count)]
    # Ordered by post then tag id: each post's list comes out in tag id order.
    return (
        select(post_tags.c.post_id, Tag.id, Tag.name)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(post_tags.c.post_id.in_(post_ids))
        .order_by(post_tags.c.post_id, Tag.id)
    )


@functools.cache
def _list_statements(author: bool, tag: bool, drafts: bool) -> tuple[AnySelect, AnySelect]:
    """``(count, page)`` of a filter shape; binds ``author_id``, ``tag``, ``limit``, ``offset``."""
    criteria: list[ColumnElement[bool]] = []
    if not drafts:
        criteria.append(Post.published.is_(True))
    if author:
        criteria.append(Post.author_id == bindparam("author_id", type_=Integer))
    if tag:
        tagged = (
            select(post_tags.c.post_id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(Tag.name == bindparam("tag", type_=String))
        )
        criteria.append(Post.id.in_(tagged))
    count = select(func.count()).select_from(Post).where(*criteria)
    # A deferred join: the offset is walked in the (covering) index on ids alone, and only the
    # page's rows are read and joined to their authors. Joining first would fetch and join
    # every skipped row (page 50 cost ~5x page 1 on SQLite).
    page_ids = (
        select(Post.id)
        .where(*criteria)
        .order_by(*_NEWEST_FIRST)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    page = _SELECT_POSTS.where(Post.id.in_(page_ids)).order_by(*_NEWEST_FIRST)
    return count, page


# The published total, as the database keeps it; no row (a database without the counter's
# triggers) means "count" (see ``models.post_count``).
_KEPT_TOTAL = select(PostCount.value).where(PostCount.name == PUBLISHED)


def _read_connection() -> Connection:
    """The session's connection (the bind an ORM query on ``Post`` would use, in the same
    transaction), after the autoflush that query would have done."""
    session = db.session()
    if session.autoflush:
        session.flush()  # returns at once when nothing is pending
    return session.connection(bind_arguments={"mapper": Post})


def _tags_by_post(conn: Connection, post_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    by_post: dict[int, list[dict[str, Any]]] = {}
    if not post_ids:
        return by_post
    params = {f"p{i}": post_id for i, post_id in enumerate(post_ids)}
    for post_id, tag_id, name in conn.execute(_tags_statement(len(post_ids)), params).all():
        tag = {"id": tag_id, "name": name}
        tags = by_post.get(post_id)
        if tags is None:
            by_post[post_id] = [tag]
        else:
            tags.append(tag)
    return by_post


def _row_to_dict(row: Any, tags: list[dict[str, Any]]) -> PostDict:
    post_id, title, body, published, created_at, updated_at, author_id, author_name = row
    return {
        "id": post_id,
        "title": title,
        "body": body,
        "published": published,
        "created_at": iso_utc(created_at),
        "updated_at": iso_utc(updated_at),
        "author": {"id": author_id, "name": author_name},
        "tags": tags,
    }


def _query_posts(
    page: int,
    limit: int,
    author_id: int | None = None,
    tag: str | None = None,
    drafts_of: int | None = None,
) -> tuple[list[PostDict], int]:
    drafts = drafts_of is not None
    if drafts:
        author_id = drafts_of
    count_stmt, page_stmt = _list_statements(author_id is not None, tag is not None, drafts)
    offset = (page - 1) * limit
    params = {"author_id": author_id, "tag": tag, "limit": limit, "offset": offset}
    conn = _read_connection()
    # Only the unfiltered list has a kept total; a filtered count walks its own index range.
    unfiltered = author_id is None and tag is None and not drafts
    kept: int | None = conn.execute(_KEPT_TOTAL).scalar_one_or_none() if unfiltered else None
    total: int = kept if kept is not None else conn.execute(count_stmt, params).scalar_one()
    if total == 0 or offset >= total:
        return [], total
    rows = conn.execute(page_stmt, params).all()
    tags = _tags_by_post(conn, [row[0] for row in rows])
    return [_row_to_dict(row, tags.get(row[0], [])) for row in rows], total


def list_posts(
    page: int,
    limit: int,
    author_id: int | None = None,
    tag: str | None = None,
    drafts_of: int | None = None,
) -> tuple[list[PostDict], int]:
    """One page of posts, through the service cache (see module docstring)."""
    paging = f"page={page}:limit={limit}"
    tags: list[str] | Callable[[list[Any]], list[str]]
    if drafts_of is not None:
        key, tags = f"users:{drafts_of}:posts:{paging}", [f"user:{drafts_of}"]
    else:
        filters = "".join(
            f"{name}={quote(str(value), safe='')}:"
            for name, value in (("author", author_id), ("tag", tag))
            if value is not None
        )
        key, tags = f"posts:list:{filters}{paging}", _page_tags
    items, total = service_cache.get_or_set(
        key,
        lambda: _query_page(page, limit, author_id, tag, drafts_of),
        ttl=LIST_TTL,
        tags=tags,
    )
    if drafts_of is None:  # the HTTP entry of this page depends on its posts too
        service_cache.depends_on(*(f"post:{item['id']}" for item in items))
    return items, total


def _query_page(
    page: int, limit: int, author_id: int | None, tag: str | None, drafts_of: int | None
) -> list[Any]:
    """``[items, total]``: a JSON array, the shape the service cache stores and returns."""
    items, total = _query_posts(page, limit, author_id, tag, drafts_of)
    return [items, total]


def _load_post(post_id: int) -> PostDict | None:
    conn = _read_connection()
    row = conn.execute(_SELECT_ONE, {"post_id": post_id}).first()
    if row is None:
        return None
    return _row_to_dict(row, _tags_by_post(conn, [post_id]).get(post_id, []))


def get_post(post_id: int, viewer_id: int | None = None) -> PostDict:
    post = service_cache.get_or_set(
        f"posts:single:{post_id}",
        lambda: _load_post(post_id),
        ttl=SINGLE_TTL,
        tags=[f"post:{post_id}"],
    )
    return _visible(post, viewer_id)


def _visible(post: PostDict | None, viewer_id: int | None) -> PostDict:
    # Drafts are cached like any post; visibility is decided per viewer here.
    if post is None or (not post["published"] and post["author"]["id"] != viewer_id):
        raise ApiError(404, "Post not found")
    return post


def _as_written(post_id: int, author_id: int) -> PostDict:
    """The writer's answer, read from the database right after the commit. Not through
    the service cache: its entry was just invalidated, and filling it here would cost the
    write two round trips for an entry public readers never use (their misses fill the
    response cache, inside which the service cache steps aside, D30)."""
    return _visible(_load_post(post_id), author_id)


def _tag_ids(names: Iterable[str]) -> list[int]:
    """Ids of the named tags, creating the missing ones (deduplicated, in order)."""
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        return []
    found = dict(db.session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted))).all())
    for name in wanted:
        if name not in found:
            # A savepoint keeps a concurrent creator's win from aborting our transaction.
            try:
                with db.session.begin_nested():
                    tag = Tag(name=name)
                    db.session.add(tag)
                found[name] = tag.id
            except IntegrityError:
                found[name] = db.session.execute(
                    select(Tag.id).where(Tag.name == name)
                ).scalar_one()
    return [found[name] for name in wanted]


def _set_tags(post_id: int, names: Iterable[str]) -> None:
    db.session.execute(delete(post_tags).where(post_tags.c.post_id == post_id))
    ids = _tag_ids(names)
    if ids:
        db.session.execute(insert(post_tags), [{"post_id": post_id, "tag_id": t} for t in ids])


# What a write checks: the author and whether the post is published. The write itself
# goes to the table with Core statements: no ORM object is loaded, flushed or refreshed.
_WRITE_CHECK = select(Post.author_id, Post.published).where(
    Post.id == bindparam("post_id", type_=Integer)
)
_POSTS = Post.__table__


def _check_write(post_id: int, user_id: int) -> bool:
    """Whether the post is published; 404 when it is missing or another author's draft,
    403 when it is someone else's."""
    row = db.session.execute(_WRITE_CHECK, {"post_id": post_id}).first()
    if row is None or (not row.published and row.author_id != user_id):
        raise ApiError(404, "Post not found")
    if row.author_id != user_id:
        raise ApiError(403, "Only the author can change this post.")
    return bool(row.published)


def create_post(
    author_id: int, title: str, body: str, published: bool = True, tags: Sequence[str] = ()
) -> PostDict:
    now = utcnow()
    post = Post(
        title=title,
        body=body,
        published=published,
        author_id=author_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(post)
    db.session.flush()
    post_id: int = post.id  # read before the commit expires it (a refresh is a query)
    _set_tags(post_id, tags)
    invalidation.commit_and_invalidate(tags_for_write(post_id, author_id))
    return _as_written(post_id, author_id)


def update_post(post_id: int, user_id: int, changes: dict[str, Any]) -> PostDict:
    published = _check_write(post_id, user_id)
    # Membership and order of list pages depend on `published` and, for the tag filter, on
    # the tags; anything else only changes what the post shows (see tags_for_write).
    lists_change = "tags" in changes or (
        "published" in changes and changes["published"] != published
    )
    values = {field: changes[field] for field in ("title", "body", "published") if field in changes}
    db.session.execute(
        _POSTS.update().where(_POSTS.c.id == post_id).values(**values, updated_at=utcnow())
    )
    if "tags" in changes:
        _set_tags(post_id, changes["tags"])
    invalidation.commit_and_invalidate(tags_for_write(post_id, user_id, lists_change=lists_change))
    return _as_written(post_id, user_id)


def delete_post(post_id: int, user_id: int) -> None:
    _check_write(post_id, user_id)  # from here on, user_id is the author
    # SQLite does not enforce the ON DELETE CASCADE, hence the links first.
    db.session.execute(delete(post_tags).where(post_tags.c.post_id == post_id))
    db.session.execute(_POSTS.delete().where(_POSTS.c.id == post_id))
    invalidation.commit_and_invalidate(tags_for_write(post_id, user_id))
