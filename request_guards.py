"""Request checks that run before any view, for every route.

Contract: a request that carries a body on a state-changing method must say
``Content-Type: application/json`` (415 otherwise, before anything is read or
written). This also refuses the "simple" content types a cross-site HTML form
can send (OWASP CSRF: form-encoded, multipart, text/plain).
"""

from __future__ import annotations

from flask import Flask, request

from errors import ApiError

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _has_body() -> bool:
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def require_json_body() -> None:
    if request.method in _WRITE_METHODS and (_has_body() or request.mimetype):
        if request.mimetype != "application/json":
            raise ApiError(415, "Unsupported media type: send application/json.")


def register_request_guards(app: Flask) -> None:
    app.before_request(require_json_body)
