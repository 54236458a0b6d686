"""One JSON error shape for every 4xx and 5xx.

Body: ``{"status": "error", "message": "<human sentence>"}`` plus ``"errors"``
(field -> messages) on validation failures. Never a traceback, never HTML.
Headers an ``HTTPException`` carries (``Allow`` on 405, ``Retry-After`` on 429
and 503) are kept: flask-smorest's own handler drops them.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import redis
import sqlalchemy.exc
from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Messages for statuses whose werkzeug description is long or HTML-ish.
_MESSAGES = {
    400: "The request could not be understood.",
    401: "Authentication required.",
    403: "You are not allowed to do this.",
    404: "Resource not found.",
    405: "Method not allowed.",
    413: "The request body is too large.",
    414: "The request URL is too long.",
    415: "Unsupported media type: send application/json.",
    422: "The request is invalid.",
    429: "Too many requests.",
    500: "Internal server error.",
    503: "Service temporarily unavailable.",
}


class ApiError(HTTPException):
    """Raised by services and views for an expected failure with a message."""

    def __init__(
        self,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description=message)
        self.code = code
        self.message = message
        self.errors = errors
        self.extra_headers = headers or {}


def _string_keys(value: Any) -> Any:
    """marshmallow keys the errors of list items by index (``{"tags": {3: [...]}}``).

    JSON keys are strings, and orjson refuses any other: left alone, a 422 for a
    bad tag would become a 500 inside the error handler.
    """
    if isinstance(value, dict):
        return {str(key): _string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    return value


def json_error(
    code: int,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"status": "error", "message": message}
    if errors:
        body["errors"] = _string_keys(errors)
    # Typed as werkzeug's sans-IO Response by Flask; it is the app's response class.
    response = cast(Response, current_app.json.response(body))
    response.status_code = code
    # Errors are never stored by any cache on the way.
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _message_for(error: HTTPException) -> tuple[str, dict[str, Any] | None]:
    """Pick the message and field errors, whoever raised the exception."""
    if isinstance(error, ApiError):
        return error.message, error.errors
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    if errors:
        # webargs: malformed JSON arrives as 400 {"json": ["Invalid JSON body."]}
        if code == 400:
            return "Malformed JSON body.", errors
        return "Validation failed.", errors
    if code == 429:
        return f"Too many requests: limit is {error.description}.", None
    return data.get("message") or _MESSAGES.get(code) or error.name, None


def handle_http_exception(error: HTTPException) -> Response:
    code = error.code or 500
    message, errors = _message_for(error)
    headers: dict[str, str] = {}
    # werkzeug puts Allow (405) and Retry-After into get_headers().
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            headers[name] = value
    if isinstance(error, ApiError):
        headers.update(error.extra_headers)
    data = getattr(error, "data", None) or {}
    headers.update(data.get("headers") or {})
    return json_error(code, message, errors, headers)


def handle_unexpected(error: Exception) -> Response:
    """Last resort: a bug. Logged with its traceback, answered as a bare 500."""
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, redis.RedisError):
        # Redis is a performance layer; reaching here means a guard is missing,
        # but the client still deserves a retryable answer rather than a 500.
        log.warning("redis error reached the error handler: %s", original)
        return json_error(503, _MESSAGES[503], headers={"Retry-After": "5"})
    if _database_unavailable(original):
        # The database is unreachable or refusing connections: temporary, so a
        # retryable 503 (never stored by any cache: json_error sets no-store).
        log.warning("database unavailable: %s", original.__class__.__name__)
        _rollback_quietly()
        return json_error(503, _MESSAGES[503], headers={"Retry-After": "5"})
    if isinstance(original, HTTPException) and not isinstance(original, InternalServerError):
        return handle_http_exception(original)
    log.error("unhandled error", exc_info=original)
    return json_error(500, _MESSAGES[500])


def _database_unavailable(error: BaseException) -> bool:
    """Unreachable, refusing or unreadable database, as opposed to a bug in a query
    (ProgrammingError) or a conflict (IntegrityError), which stay 500/4xx."""
    if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
        return True
    # Exactly DatabaseError: e.g. SQLite's "file is not a database".
    return type(error) is sqlalchemy.exc.DatabaseError


def _rollback_quietly() -> None:
    from extensions import db

    try:
        db.session.rollback()
    except sqlalchemy.exc.SQLAlchemyError:
        pass  # the connection is gone; the session is discarded at teardown anyway


def init_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
    app.register_error_handler(InternalServerError, handle_unexpected)
