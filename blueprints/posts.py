"""``/api/v1/posts`` and ``/api/v1/users/me/posts``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import url_for
from flask_response_cache import cache_response
from flask_smorest import Blueprint

from schemas.common import ApiErrorSchema
from schemas.posts import PageQuery, PostIn, PostListQuery, PostOut, PostPage, PostPatch
from services import auth, posts

bp = Blueprint("posts", __name__, url_prefix="/api/v1", description="Posts")

Page = dict[str, Any]
P = ParamSpec("P")
R = TypeVar("R")

LOCATION = {"Location": {"description": "URL of the new post", "schema": {"type": "string"}}}


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """401 before the body is parsed: anonymous writers learn nothing but "log in".

    Sits between ``@bp.route`` and ``@bp.arguments`` (functools.wraps keeps
    flask-smorest's documentation attached to the view).
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        auth.require_user()
        return view(*args, **kwargs)

    return wrapper


def _page(items: list[dict[str, Any]], total: int, query: dict[str, Any]) -> Page:
    return {"data": items, "meta": {"total": total, "page": query["page"], "limit": query["limit"]}}


@bp.route("/posts")
@bp.arguments(PostListQuery(), location="query")
@bp.alt_response(200, schema=PostPage, success=True, description="Published posts, newest first")
@cache_response(
    ttl=60,
    scope="public",
    tags=["posts"],
    query=["page", "limit", "author_id", "tag"],
    stale_while_revalidate=30,
    stale_if_error=300,
)
def list_posts(query: dict[str, Any]) -> Page:
    items, total = posts.list_posts(
        query["page"], query["limit"], query.get("author_id"), query.get("tag")
    )
    return _page(items, total, query)


@bp.route("/posts/<int(max=2147483647):post_id>")
@bp.alt_response(200, schema=PostOut, success=True, description="One post")
@bp.alt_response(404, schema=ApiErrorSchema, description="Post not found")
@cache_response(
    ttl=300,
    scope="public",
    # Only its own post: list-changing writes (tag "posts") leave other posts cached (D31).
    tags=["post:{post_id}"],
    query=[],
    stale_while_revalidate=30,
    stale_if_error=300,
)
def get_post(post_id: int) -> dict[str, Any]:
    return posts.get_post(post_id, viewer_id=auth.current_user_id())


@bp.route("/posts", methods=["POST"])
@login_required
@bp.arguments(PostIn())
@bp.alt_response(201, schema=PostOut, success=True, description="Created", headers=LOCATION)
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
def create_post(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    user = auth.require_user()
    post = posts.create_post(user.id, data["title"], data["body"], data["published"], data["tags"])
    return post, 201, {"Location": url_for("posts.get_post", post_id=post["id"])}


@bp.route("/posts/<int(max=2147483647):post_id>", methods=["PATCH"])
@login_required
@bp.arguments(PostPatch())
@bp.alt_response(200, schema=PostOut, success=True, description="Updated")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(403, schema=ApiErrorSchema, description="Not the author")
@bp.alt_response(404, schema=ApiErrorSchema, description="Post not found")
def update_post(changes: dict[str, Any], post_id: int) -> dict[str, Any]:
    user = auth.require_user()
    return posts.update_post(post_id, user.id, changes)


@bp.route("/posts/<int(max=2147483647):post_id>", methods=["DELETE"])
@login_required
@bp.alt_response(204, success=True, description="Deleted")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(403, schema=ApiErrorSchema, description="Not the author")
@bp.alt_response(404, schema=ApiErrorSchema, description="Post not found")
def delete_post(post_id: int) -> tuple[str, int]:
    user = auth.require_user()
    posts.delete_post(post_id, user.id)
    return "", 204


@bp.route("/users/me/posts")
@login_required
@bp.arguments(PageQuery(), location="query")
@bp.alt_response(200, schema=PostPage, success=True, description="The caller's posts, drafts too")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@cache_response(ttl=60, scope="user", tags=["user:{user_id}"], query=["page", "limit"])
def my_posts(query: dict[str, Any]) -> tuple[Page, int, dict[str, str]]:
    user = auth.require_user()
    items, total = posts.list_posts(query["page"], query["limit"], drafts_of=user.id)
    return _page(items, total, query), 200, {"Cache-Control": "private"}
