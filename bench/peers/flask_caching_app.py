"""Peer: the app's routes cached the usual Flask way, ``@cache.cached(query_string=True)``.

Run: ``gunicorn -c gunicorn.conf.py bench.peers.flask_caching_app:app`` with ``DATABASE_URL``,
``REDIS_URL``, ``SECRET_KEY`` (and ``PEER_RATELIMIT``, ``RATELIMIT_API``: see ``common``).

Contract:
- ``GET /api/v1/posts`` and ``GET /api/v1/posts/<id>`` answer the app's JSON, computed by the
  app's own uncached queries (``services.posts._query_posts`` / ``_load_post``), cached by
  Flask-Caching 2.5.1 (``RedisCache``, pickled ``Response``, key = path + md5 of the sorted
  query args, TTL 3600 s) with ``response_hit_indication`` (a ``hit_cache: True`` header).
- ``POST /api/v1/auth/login`` (argon2 check of the seeded users; Flask's signed-cookie session)
  and ``PATCH /api/v1/posts/<id>`` (author only) for the mixed workload. A write commits, then
  invalidates the way the Express recipe does: delete the post's key, then SCAN MATCH the list
  keys COUNT 100 and delete them in one pipeline (``invalidatePattern('posts:list:*')``).
"""

from __future__ import annotations

import os
from typing import Any

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, abort, jsonify, request, session
from flask_caching import Cache
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from bench.peers.common import base_app, page_args, page_document
from extensions import db
from models import Post, User
from models.types import utcnow
from services.posts import _load_post, _query_posts

KEY_PREFIX = "fc:"
TTL = 3600
LIST_PATH = "/api/v1/posts"
# Flask-Caching's key for a path with query_string=True: "view/" + path + a hash of the
# sorted query args. A list key continues with a hex digit right after "posts"; a post's, "/".
LIST_PATTERN = f"{KEY_PREFIX}view/{LIST_PATH}[0-9a-f]*"


def invalidate_like_the_recipe(client: redis.Redis, post_key: str) -> int:
    """DEL the post's key, then SCAN MATCH the list keys (COUNT 100) and DEL them, pipelined."""
    client.delete(post_key)
    pipeline = client.pipeline(transaction=False)
    count = 0
    for key in client.scan_iter(match=LIST_PATTERN, count=100):
        pipeline.delete(key)
        count += 1
    if count:
        pipeline.execute()
    return count


def create_app() -> Flask:
    app = base_app(__name__)
    redis_url = os.environ["REDIS_URL"]
    app.config.update(
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=KEY_PREFIX,
        CACHE_DEFAULT_TIMEOUT=TTL,
    )
    cache = Cache(app)
    client = redis.Redis.from_url(redis_url, socket_timeout=2.0)
    hasher = PasswordHasher()

    @app.get("/api/v1/posts")
    @cache.cached(timeout=TTL, query_string=True, response_hit_indication=True)
    def list_posts() -> BaseResponse:
        page, limit = page_args()
        items, total = _query_posts(page, limit)
        return jsonify(page_document(items, total, page, limit))

    @app.get("/api/v1/posts/<int:post_id>")
    @cache.cached(timeout=TTL, query_string=True, response_hit_indication=True)
    def get_post(post_id: int) -> BaseResponse:
        post = _load_post(post_id)
        if post is None or not post["published"]:
            abort(404, "Post not found")
        return jsonify(post)

    @app.post("/api/v1/auth/login")
    def login() -> BaseResponse:
        data: dict[str, Any] = request.get_json(silent=True) or {}
        user = db.session.execute(
            select(User).where(User.email == str(data.get("email", "")))
        ).scalar_one_or_none()
        try:
            ok = user is not None and hasher.verify(user.password_hash, str(data["password"]))
        except (KeyError, VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            abort(401, "Invalid email or password")
        session.clear()
        session["uid"] = user.id
        return jsonify({"id": user.id, "email": user.email, "name": user.name})

    @app.patch("/api/v1/posts/<int:post_id>")
    def update_post(post_id: int) -> BaseResponse:
        uid = session.get("uid")
        if not isinstance(uid, int):
            abort(401, "Authentication required.")
        post = db.session.get(Post, post_id)
        if post is None:
            abort(404, "Post not found")
        if post.author_id != uid:
            abort(403, "Only the author can change this post.")
        changes: dict[str, Any] = request.get_json(silent=True) or {}
        for field in ("title", "body"):
            if isinstance(changes.get(field), str) and changes[field]:
                setattr(post, field, changes[field])
        post.updated_at = utcnow()
        db.session.commit()
        # The PATCH has the GET's path and no query args, so the view computes the GET's key.
        post_key = KEY_PREFIX + get_post.make_cache_key(post_id=post_id)
        invalidate_like_the_recipe(client, post_key)
        return jsonify(_load_post(post_id))

    return app


app = create_app()
