"""Posts: lean reads serialised straight to dicts, and author-only writes.

Contract:
- ``list_posts`` returns ``(items, total)``: newest first (``created_at`` then
  ``id``, both descending), published only unless ``drafts_of`` names the
  author whose drafts are included. Three queries whatever the page size
  (count, page joined to author, tags of the page): no N+1.
- ``get_post`` returns the post dict, or raises ``ApiError(404)`` when it is
  missing or is a draft and the viewer is not its author (a draft's existence
  is not revealed).
- Reads go through the service cache (``services.cache``) under the recipe's
  keys: ``posts:list:page=1:limit=20`` (with ``author=``/``tag=`` filters),
  ``users:7:posts:page=1:limit=20`` and ``posts:single:42``, tagged ``posts``,
  ``user:<id>`` and ``post:<id>``.
- Writes commit, then run the registered after-commit hooks with the tags the
  write affected (``posts``, ``post:<id>``, ``user:<author_id>``) so caches
  can invalidate; see ``services.invalidation``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from errors import ApiError
from extensions import db
from json_provider import iso_utc
from models import Post, Tag, User, post_tags
from models.types import utcnow
from services import cache as service_cache
from services import invalidation

PostDict = dict[str, Any]
# SQLAlchemy 2.1's Select is variadic over its column types.
AnySelect = Select[*tuple[Any, ...]]

# Service-cache lifetimes, as in the original recipe.
LIST_TTL = 60
SINGLE_TTL = 300

_POST_COLUMNS = (
    Post.id,
    Post.title,
    Post.body,
    Post.published,
    Post.created_at,
    Post.updated_at,
    User.id.label("author_id"),
    User.name.label("author_name"),
)


def tags_for_write(post_id: int, author_id: int) -> list[str]:
    """Every cache tag a change to this post can affect."""
    return ["posts", f"post:{post_id}", f"user:{author_id}"]


def _filtered(stmt: AnySelect, author_id: int | None, tag: str | None, drafts: bool) -> Any:
    if not drafts:
        stmt = stmt.where(Post.published.is_(True))
    if author_id is not None:
        stmt = stmt.where(Post.author_id == author_id)
    if tag is not None:
        tagged = (
            select(post_tags.c.post_id)
            .join(Tag, Tag.id == post_tags.c.tag_id)
            .where(Tag.name == tag)
        )
        stmt = stmt.where(Post.id.in_(tagged))
    return stmt


def _tags_by_post(post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    by_post: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not post_ids:
        return by_post
    rows = db.session.execute(
        select(post_tags.c.post_id, Tag.id, Tag.name)
        .join(Tag, Tag.id == post_tags.c.tag_id)
        .where(post_tags.c.post_id.in_(post_ids))
        .order_by(post_tags.c.post_id, Tag.id)
    )
    for post_id, tag_id, name in rows:
        by_post[post_id].append({"id": tag_id, "name": name})
    return by_post


def _row_to_dict(row: Any, tags: list[dict[str, Any]]) -> PostDict:
    return {
        "id": row.id,
        "title": row.title,
        "body": row.body,
        "published": row.published,
        "created_at": iso_utc(row.created_at),
        "updated_at": iso_utc(row.updated_at),
        "author": {"id": row.author_id, "name": row.author_name},
        "tags": tags,
    }


def _select_posts() -> AnySelect:
    return select(*_POST_COLUMNS).join(User, User.id == Post.author_id)


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
    count_stmt = _filtered(select(func.count()).select_from(Post), author_id, tag, drafts)
    total = db.session.execute(count_stmt).scalar_one()
    if total == 0 or (page - 1) * limit >= total:
        return [], total
    page_stmt = (
        _filtered(_select_posts(), author_id, tag, drafts)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit)
        .offset((page - 1) * limit)
    )
    rows = db.session.execute(page_stmt).all()
    tags = _tags_by_post([row.id for row in rows])
    return [_row_to_dict(row, tags.get(row.id, [])) for row in rows], total


def list_posts(
    page: int,
    limit: int,
    author_id: int | None = None,
    tag: str | None = None,
    drafts_of: int | None = None,
) -> tuple[list[PostDict], int]:
    """One page of posts, through the service cache (see module docstring)."""
    paging = f"page={page}:limit={limit}"
    if drafts_of is not None:
        key, tags = f"users:{drafts_of}:posts:{paging}", [f"user:{drafts_of}"]
    else:
        filters = "".join(
            f"{name}={quote(str(value), safe='')}:"
            for name, value in (("author", author_id), ("tag", tag))
            if value is not None
        )
        key, tags = f"posts:list:{filters}{paging}", ["posts"]
    items, total = service_cache.get_or_set(
        key,
        lambda: _query_page(page, limit, author_id, tag, drafts_of),
        ttl=LIST_TTL,
        tags=tags,
    )
    return items, total


def _query_page(
    page: int, limit: int, author_id: int | None, tag: str | None, drafts_of: int | None
) -> list[Any]:
    """``[items, total]``: a JSON array, the shape the service cache stores and returns."""
    items, total = _query_posts(page, limit, author_id, tag, drafts_of)
    return [items, total]


def _load_post(post_id: int) -> PostDict | None:
    row = db.session.execute(_select_posts().where(Post.id == post_id)).first()
    if row is None:
        return None
    return _row_to_dict(row, _tags_by_post([post_id]).get(post_id, []))


def get_post(post_id: int, viewer_id: int | None = None) -> PostDict:
    post = service_cache.get_or_set(
        f"posts:single:{post_id}",
        lambda: _load_post(post_id),
        ttl=SINGLE_TTL,
        tags=[f"post:{post_id}"],
    )
    # Drafts are cached like any post; visibility is decided per viewer here.
    if post is None or (not post["published"] and post["author"]["id"] != viewer_id):
        raise ApiError(404, "Post not found")
    return post


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


def _load_for_write(post_id: int, user_id: int) -> Post:
    post = db.session.get(Post, post_id)
    if post is None or (not post.published and post.author_id != user_id):
        raise ApiError(404, "Post not found")
    if post.author_id != user_id:
        raise ApiError(403, "Only the author can change this post.")
    return post


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
    _set_tags(post.id, tags)
    invalidation.commit_and_invalidate(tags_for_write(post.id, author_id))
    return get_post(post.id, viewer_id=author_id)


def update_post(post_id: int, user_id: int, changes: dict[str, Any]) -> PostDict:
    post = _load_for_write(post_id, user_id)
    for field in ("title", "body", "published"):
        if field in changes:
            setattr(post, field, changes[field])
    if "tags" in changes:
        _set_tags(post.id, changes["tags"])
    post.updated_at = utcnow()
    invalidation.commit_and_invalidate(tags_for_write(post.id, post.author_id))
    return get_post(post.id, viewer_id=user_id)


def delete_post(post_id: int, user_id: int) -> None:
    post = _load_for_write(post_id, user_id)
    author_id = post.author_id
    # Core deletes for both tables: ``session.delete(post)`` would also delete the
    # post's (already loaded) tag links itself, find them gone and raise
    # StaleDataError. SQLite does not enforce the ON DELETE CASCADE, hence the first.
    db.session.execute(delete(post_tags).where(post_tags.c.post_id == post_id))
    db.session.execute(delete(Post).where(Post.id == post_id))
    db.session.expunge(post)
    invalidation.commit_and_invalidate(tags_for_write(post_id, author_id))
