"""``GET /metrics``: the Prometheus exposition (see ``observability/metrics.py``).

Contract:
- Never cached (the response cache stores only routes that declare it; this one does not, and
  answers ``Cache-Control: no-store``), never rate-limited (a scraper polls every few seconds).
- Allowed with ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time; no token
  configured means this way is closed), or with an administrator's session (the dashboard).
- Otherwise the shared JSON error shape: 401 with a ``WWW-Authenticate: Bearer`` challenge
  (no or wrong credentials), 403 (logged in, not an administrator), 503 (the session store
  cannot be read, so nobody can be recognised).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, request

from errors import ApiError
from middleware.rate_limits import exempt_from_limits
from observability.metrics import render_metrics
from services import auth

bp = exempt_from_limits(Blueprint("metrics", __name__))


def init_metrics_endpoint(app: Flask) -> None:
    app.register_blueprint(bp)


CHALLENGE = 'Bearer realm="metrics"'


def _bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def authorise_scrape() -> None:
    expected = str(current_app.config.get("METRICS_TOKEN") or "")
    if "Authorization" in request.headers:
        given = _bearer_token()
        if expected and given and hmac.compare_digest(given.encode(), expected.encode()):
            return
        raise ApiError(
            401,
            "Invalid metrics token.",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    try:
        auth.require_admin()
    except ApiError as error:
        if error.code == 401:
            error.extra_headers.setdefault("WWW-Authenticate", CHALLENGE)
        raise


@bp.get("/metrics")
def metrics() -> Response:
    authorise_scrape()
    body, content_type = render_metrics(request.headers.get("Accept"))
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
