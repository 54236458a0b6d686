"""Application factory: reads like a table of contents.

``create_app(config=None)`` builds a fully wired app from the environment
(``config.load_config``), with ``config`` overriding individual keys (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import cli
from blueprints import auth, health, posts
from config import load_config
from errors import register_error_handlers
from extensions import db
from json_provider import register_json
from openapi import JsonApi
from rate_limits import apply_limits, configure_limiter
from redis_link import link_from_config
from request_guards import register_request_guards
from services.invalidation import register_cache_journal
from sessions import configure_sessions

api = JsonApi()
apply_limits(auth.bp, exempt=[health.bp])


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    register_json(app)
    register_database(app)
    register_cache_journal(app)
    register_redis(app)
    configure_sessions(app)
    configure_limiter(app)
    register_request_guards(app)
    register_api(app)
    register_error_handlers(app)
    cli.register(app)
    return app


def register_database(app: Flask) -> None:
    db.init_app(app)


def register_redis(app: Flask) -> None:
    app.extensions["redis_link"] = link_from_config(
        app.config["REDIS_URL"], app.config["REDIS_TIMEOUT"]
    )


def register_api(app: Flask) -> None:
    api.init_app(app)
    for blueprint in (health.bp, auth.bp, posts.bp):
        api.register_blueprint(blueprint)
