"""flask-response-cache in a small app: ``flask --app examples/app.py run``.

REDIS_URL=redis://localhost:6379/0 puts the cache and the limits on Redis (else memory).
"""

from __future__ import annotations

import os

from flask import Blueprint, Flask, abort, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_response_cache import ResponseCache, cache_response

REDIS_URL = os.environ.get("REDIS_URL")
app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY", "dev"), RESPONSE_CACHE_REDIS_URL=REDIS_URL
)
limiter = Limiter(
    get_remote_address,
    app=app,
    default_limits=["60 per minute"],
    storage_uri=REDIS_URL or "memory://",
    headers_enabled=True,
)
cache = ResponseCache(app, user_id=lambda: session.get("user"))  # order does not matter


@app.get("/posts")
@cache_response(ttl=60, scope="public", tags=["posts"])  # one entry for every anonymous client
def posts() -> dict[str, list[str]]:
    return {"posts": ["hello", "world"]}


@app.get("/me")
@cache_response(ttl=60, scope="user", tags=["user:{user_id}"])  # one entry per user
def me() -> dict[str, str]:
    return {"user": session["user"]} if "user" in session else abort(401)


partners = Blueprint("partners", __name__, url_prefix="/partners")


@partners.before_request
def require_api_key() -> None:  # a guard: it runs before every answer, cache hits included
    if request.headers.get("X-Api-Key") != os.environ.get("PARTNER_KEY", "secret"):
        abort(403)


@partners.get("/feed")
@cache_response(ttl=30, scope="public")
def feed() -> dict[str, list[str]]:
    return {"feed": ["for partners only"]}


app.register_blueprint(partners)
