"""What the Flask peers share with each other and with the app: data access, JSON, limiter.

Contract: ``base_app(name)`` returns a Flask app bound to the app's own SQLAlchemy models
(``DATABASE_URL``), the app's orjson provider, and Flask-Limiter with one application-wide
limit (``RATELIMIT_API``) in Redis (``REDIS_URL``), fixed window, headers on, like the app's
limiter; ``PEER_RATELIMIT=false`` switches it off. ``page_args()`` parses ``page``/``limit``
as the app does (1..1,000,000 and 1..100, defaults 1 and 20) or aborts with a 422.
"""

from __future__ import annotations

import os

from flask import Flask, abort, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from config import database_url_from
from extensions import db
from schemas.json import init_json


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def base_app(import_name: str) -> Flask:
    app = Flask(import_name)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url_from(os.environ),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-peer-secret-key"),
    )
    db.init_app(app)
    init_json(app)
    redis_url = os.environ.get("REDIS_URL", "")
    Limiter(
        get_remote_address,
        app=app,
        application_limits=[os.environ.get("RATELIMIT_API", "100000000 per minute")],
        storage_uri=redis_url or "memory://",
        strategy="fixed-window",
        headers_enabled=True,
        enabled=env_flag("PEER_RATELIMIT", True),
        key_prefix="peer",
    )

    @app.errorhandler(HTTPException)
    def json_error(exc: HTTPException) -> tuple[BaseResponse, int]:
        code = exc.code or 500
        return jsonify({"status": "error", "message": exc.description}), code

    return app


def page_args() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 1))
        limit = int(request.args.get("limit", 20))
    except ValueError:
        abort(422)
    if not (1 <= page <= 1_000_000 and 1 <= limit <= 100):
        abort(422)
    return page, limit


def page_document(items: list[dict[str, object]], total: int, page: int, limit: int) -> dict:
    return {"data": items, "meta": {"total": total, "page": page, "limit": limit}}
