"""Peer: Flask's ceiling for a hit, a route returning precomputed bytes (a dict lookup).

Run: ``gunicorn -c gunicorn.conf.py bench.peers.constant_app:app`` with ``DATABASE_URL``,
``BENCH_URLS`` (a file of paths, one per line) and the limiter settings of ``common``.

Contract: at start-up each worker renders the app's JSON for every path in ``BENCH_URLS``
(plus the readiness path) with the app's own queries and orjson; each request then costs a
URL-map match, one dict lookup by ``PATH_INFO?QUERY_STRING`` and a ``Response``: the same
routes and body sizes as the app, without any cache or database work. Unknown paths are 404.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson
from flask import Flask, Response, abort, request

from bench.peers.common import base_app, page_document
from services.posts import _load_post, _query_posts

HEALTH_PATH = "/api/v1/posts?page=1&limit=1"


def render(path: str) -> bytes | None:
    """The app's body for ``path`` (inside an app context)."""
    parts = urlsplit(path)
    if parts.path == "/api/v1/posts":
        query = dict(parse_qsl(parts.query))
        page, limit = int(query.get("page", 1)), int(query.get("limit", 20))
        items, total = _query_posts(page, limit)
        return orjson.dumps(page_document(items, total, page, limit))
    post = _load_post(int(parts.path.rsplit("/", 1)[1]))
    if post is None or not post["published"]:
        return None
    return orjson.dumps(post)


def create_app() -> Flask:
    app = base_app(__name__)
    paths = [HEALTH_PATH]
    urls_file = os.environ.get("BENCH_URLS", "")
    if urls_file:
        paths += [p for p in Path(urls_file).read_text().splitlines() if p]
    bodies: dict[str, bytes] = {}
    with app.app_context():
        for path in paths:
            body = render(path)
            if body is not None:
                bodies[path] = body

    def constant() -> Response:
        environ = request.environ
        query = environ.get("QUERY_STRING", "")
        key = environ["PATH_INFO"] + "?" + query if query else environ["PATH_INFO"]
        body = bodies.get(key)
        if body is None:
            abort(404)
        return Response(body, mimetype="application/json")

    app.add_url_rule("/api/v1/posts", "list_posts", constant)
    app.add_url_rule("/api/v1/posts/<int:post_id>", "get_post", lambda post_id: constant())
    return app


app = create_app()
