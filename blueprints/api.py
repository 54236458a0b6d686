"""The JSON API: flask-smorest's ``Api`` with our error shape, and its blueprints.

- ``JsonApi``: flask-smorest registers its own ``HTTPException`` handler, which answers
  ``{"code", "status"}`` and drops werkzeug's headers (a 405 loses ``Allow``). This
  subclass routes every HTTP error through ``errors.handle_http_exception`` so one shape
  and the right headers come out everywhere.
- ``init_api(app, blueprints)`` binds ``extensions.api``, registers the API's blueprints
  and declares flask-smorest's view layers safe for the response
  cache's fast path to skip on a hit (``declare_layers_fast_hit_safe``).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response
from flask_response_cache import declare_fast_hit_safe_decorator
from flask_smorest import Api, Blueprint
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

from errors import handle_http_exception
from schemas.common import ApiErrorSchema


class JsonApi(Api):  # type: ignore[misc]
    # Documents our error body as the default error response.
    ERROR_SCHEMA = ApiErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return handle_http_exception(error)


def declare_layers_fast_hit_safe() -> None:
    """flask-smorest's view layers above ``@cache_response`` (argument parsing, response
    documentation), declared safe for the response cache's fast path to skip on a hit:
    every query schema here excludes unknown fields and the cache keys only the
    parameters a route declares, so an entry exists only for arguments that parsed;
    the documentation wrappers only pass the view's result through."""
    probe = Blueprint("fast-hit-probe", __name__)
    declare_fast_hit_safe_decorator(
        probe.arguments(Schema(), location="query"), "parsing already passed for this entry"
    )
    declare_fast_hit_safe_decorator(
        probe.alt_response(200), "documentation only: returns the view's result unchanged"
    )
    declare_fast_hit_safe_decorator(
        probe.response(200), "serialises the view's result, which the entry already holds"
    )


def init_api(app: Flask, blueprints: Sequence[Blueprint]) -> None:
    from extensions import api  # extensions holds the unbound JsonApi defined here

    declare_layers_fast_hit_safe()
    api.init_app(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
