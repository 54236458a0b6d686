"""Request checks that run before any view, for every route.

Contract, for state-changing methods (POST, PUT, PATCH, DELETE) only:
- Cross-site requests are refused with 403 before anything is read or written
  (OWASP CSRF cheat sheet, "Fetch Metadata" with an Origin fallback): a
  ``Sec-Fetch-Site: cross-site`` header is refused; when the browser sent no
  ``Sec-Fetch-Site``, an ``Origin`` whose host (and port) differs from the
  request's host, or ``Origin: null``, is refused. ``same-origin``,
  ``same-site`` and ``none`` (typed URL, bookmark) pass, and so do requests
  with neither header (scripts, curl: no ambient cookies to abuse).
- A request that carries a body must say ``Content-Type: application/json``
  (415 otherwise). This also refuses the "simple" content types a cross-site
  HTML form can send without a CORS preflight (form-encoded, multipart,
  text/plain).
- That body must be strict JSON (RFC 8259, parsed by orjson: no NaN, no lone
  surrogates), 400 otherwise, even on routes that ignore their body (logout,
  DELETE): a malformed write never writes. webargs' own parser is the lenient
  stdlib ``json``; this check runs first. Over ``MAX_CONTENT_LENGTH``: 413.
- An unknown path (404) or a wrong method (405) is reported as such, whatever
  the body: the body checks run only on a matched route.
SameSite=Lax on the session cookie is defence in depth, not the control.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_response_cache import fast_hit_safe

from errors import ApiError

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _has_body() -> bool:
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _host_and_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"{scheme}://{netloc}")
    return (parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme))


def is_cross_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.strip().lower() == "cross-site"
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    try:
        parts = urlsplit(origin.strip())
        origin_host = (parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme))
        request_host = _host_and_port(request.host, parts.scheme)
    except ValueError:  # "null", garbage or a bad port: not provably our origin
        return True
    return not origin_host[0] or origin_host != request_host


@fast_hit_safe("checks writes only; a cache hit is a GET or HEAD")
def refuse_cross_site_writes() -> None:
    if request.method in _WRITE_METHODS and is_cross_site():
        raise ApiError(403, "Cross-site requests are not allowed.")


@fast_hit_safe("checks writes only; a cache hit is a GET or HEAD")
def require_json_body() -> None:
    if request.method not in _WRITE_METHODS or request.routing_exception is not None:
        return
    has_body = _has_body()
    if not (has_body or request.mimetype):
        return
    if request.mimetype != "application/json":
        raise ApiError(415, "Unsupported media type: send application/json.")
    if has_body:
        # Reading enforces MAX_CONTENT_LENGTH (413); the bytes are cached for the view.
        raw = request.get_data(cache=True)
        try:
            current_app.json.loads(raw)
        except ValueError:  # orjson.JSONDecodeError, UnicodeDecodeError
            raise ApiError(
                400, "Malformed JSON body.", errors={"json": ["Invalid JSON body."]}
            ) from None


def init_request_guards(app: Flask) -> None:
    app.before_request(refuse_cross_site_writes)
    app.before_request(require_json_body)
