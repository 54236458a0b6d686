"""Application factory: reads like a table of contents.

``create_app(config=None)`` builds a fully wired app from the environment
(``config.load_config``), with ``config`` overriding individual keys (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import cli
from blueprints import admin, auth, health, posts
from blueprints.api_docs import register_api_docs
from blueprints.dashboard import register_dashboard
from cache_wiring import register_response_cache
from config import load_config
from errors import register_error_handlers
from extensions import db
from json_provider import register_json
from observability import register_observability
from openapi import JsonApi, declare_layers_fast_hit_safe
from rate_limits import configure_limiter, exempt_from_limits, limit_auth_routes
from redis_link import init_redis_link
from request_guards import register_request_guards
from sessions import configure_sessions
from sqlite_setup import configure_sqlite

api = JsonApi()
declare_layers_fast_hit_safe()
limit_auth_routes(auth.bp)
exempt_from_limits(health.bp)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    register_json(app)
    register_database(app)
    register_redis(app)
    configure_sessions(app)
    configure_limiter(app)
    register_request_guards(app)
    register_response_cache(app)
    register_api(app)
    register_api_docs(app)
    register_dashboard(app)
    register_error_handlers(app)
    cli.register(app)
    # Last: its WSGI layer must wrap every layer installed above (the response cache's too).
    register_observability(app)
    return app


def register_database(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)  # WAL, and broken files drop their connections


def register_redis(app: Flask) -> None:
    # One client and one circuit breaker per process, shared by every Redis user.
    init_redis_link(app)


def register_api(app: Flask) -> None:
    api.init_app(app)
    for blueprint in (health.bp, auth.bp, posts.bp, admin.bp):
        api.register_blueprint(blueprint)
