"""The ``api`` rate-limit bucket counted in one Redis round trip on every path.

Flask-Limiter counts a request with one script call, then reads the window back for
its headers with two more (``get`` and ``get_expiry``): three round trips per API
request. ``fast_path_limits.LimiterCharge`` counts the same bucket, under the same
key, with one script that also returns the TTL. This module makes it the counter of
the ``api`` bucket on the Flask path too, wherever it reproduces the limiter exactly.

Contract:
- ``register_api_limit(app)`` runs right after ``rate_limits.configure_limiter``.
  It builds the app's ``LimiterCharge`` (``app.extensions["api_limit"]``; the
  response cache's fast path uses the same one) and, when that charge is usable:
  - puts ``count_api_request`` in the ``before_request`` chain just ahead of
    Flask-Limiter's check;
  - registers ``rate_limits.counted_elsewhere`` as a Flask-Limiter request filter.
- ``count_api_request`` asks the charge for a ticket for the matched endpoint.
  - No ticket (an endpoint with limits of its own, such as the auth routes'
    ``RATELIMIT_AUTH``, or a set-up the charge does not reproduce) or a free
    one (exempt, outside ``/api/``): nothing happens here, and Flask-Limiter
    does all of its usual work.
  - Otherwise the request is counted now. The verdict's headers (the same
    ``X-RateLimit-*``, ``RateLimit-Policy`` and ``RateLimit`` Flask-Limiter
    and ``rate_limits.add_standard_headers`` give) are kept in the environ under
    ``rate_limits.COUNTED_HEADERS``. A request counted below Flask by the fast
    path arrives with them already there and is not counted again.
  - Over the limit, the answer is the fast path's 429. It has the same body,
    headers and ``Retry-After`` as Flask-Limiter's 429 through ``errors.json_error``.
- A request carrying ``COUNTED_HEADERS`` is exempt from Flask-Limiter's own
  check (the request filter), so it is counted exactly once.
  ``add_standard_headers`` copies those headers onto the response.
- Redis unavailable: the charge counts in this process's memory, as
  ``limiter_storage.FailoverStorage`` does (decision D5).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

import rate_limits
from fast_path_limits import LimiterCharge
from middleware.response_cache.fast_path import FREE
from middleware.response_cache.replies import Reply

EXTENSION = "api_limit"


def register_api_limit(app: Flask) -> None:
    limiter = app.extensions["rate_limits"]
    charge = LimiterCharge(app)
    app.extensions[EXTENSION] = charge
    if not charge.usable:
        return
    limiter.request_filter(rate_limits.counted_elsewhere)
    hooks = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit  # Flask-Limiter's before_request hook
    position = hooks.index(check) if check in hooks else len(hooks)
    hooks.insert(position, count_api_request)


def count_api_request() -> Response | None:
    """Count this API request in one round trip; a 429 answer when over the limit."""
    environ = request.environ
    endpoint = request.endpoint
    if endpoint is None or rate_limits.COUNTED_HEADERS in environ:
        return None
    charge: LimiterCharge = current_app.extensions[EXTENSION]
    ticket = charge(environ, endpoint)
    if ticket is None or ticket is FREE:
        return None
    verdict = ticket.charge()
    if isinstance(verdict, Reply):
        return Response(verdict.body, verdict.status, verdict.headers)
    return None
