"""Application factory: a table of contents, one ``init_*`` per concern.

``create_app(config=None)`` builds a fully wired app from the environment
(``config.load_config``), with ``config`` overriding individual keys (tests). The order
matters and is checked, not commented: each ``init_*`` refuses to run before what it
needs (the sessions, the limiter and the cache need the Redis link; the cache needs the
database and the limiter; the observer must wrap the cache's WSGI layer). The blueprints
are imported first: each declares its own rate-limit policy as it is defined
(``exempt_from_limits``, ``limit_auth_routes``), which ``init_rate_limits`` applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import cli
from blueprints import admin, auth, health, posts
from blueprints.api import init_api
from blueprints.api_docs import init_api_docs
from blueprints.dashboard import init_dashboard
from blueprints.metrics import init_metrics_endpoint
from cache import init_cache
from config import load_config
from errors import init_error_handlers
from middleware.rate_limits import init_rate_limits
from middleware.request_guards import init_request_guards
from middleware.sessions import init_sessions
from models import init_database
from observability import init_observability
from redis_link import init_redis_link
from schemas.json import init_json


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    init_json(app)
    init_database(app)
    init_redis_link(app)
    init_sessions(app)
    init_rate_limits(app)
    init_request_guards(app)
    init_cache(app)
    init_api(app, [health.bp, auth.bp, posts.bp, admin.bp])
    init_api_docs(app)
    init_dashboard(app)
    init_metrics_endpoint(app)
    init_error_handlers(app)
    cli.init_app(app)
    init_observability(app)
    return app
