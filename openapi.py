"""flask-smorest's ``Api`` with our JSON error shape.

flask-smorest registers its own ``HTTPException`` handler, which answers
``{"code", "status"}`` and drops werkzeug's headers (a 405 loses ``Allow``).
This subclass routes every HTTP error through ``errors.handle_http_exception``
so one shape and the right headers come out everywhere.
"""

from __future__ import annotations

from flask import Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from errors import handle_http_exception
from schemas.common import ApiErrorSchema


class JsonApi(Api):  # type: ignore[misc]
    # Documents our error body as the default error response.
    ERROR_SCHEMA = ApiErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return handle_http_exception(error)
