"""``/admin`` (the cache dashboard) and ``/login`` (browser sign-in): server-rendered HTML.

Contract:
- ``GET /login`` shows a sign-in form. Its script POSTs JSON to ``/api/v1/auth/login`` and then
  goes to ``next`` (a local path only: never another site) or ``/admin``. Browser sessions are the
  API's sessions: same cookie, same CSRF rules (JSON writes, same origin), same throttling.
- ``GET /admin``: anonymous visitors are redirected to ``/login?next=/admin``; signed-in users who
  are not administrators get a 403 page; when the session store cannot be read, a 503 page
  (``Retry-After``). Administrators see every cacheable route with its scope, TTL, enabled state,
  hit ratio and counters, with controls that call the admin JSON API
  (``/api/v1/admin/cache/...``) and a logout button.
- The route rows come from the admin API's own view, called in this request (same
  authorisation, same data as ``GET /api/v1/admin/cache/routes``), found through the URL map so
  the dashboard depends on the API's contract, not on the cache's internals.
- Every page answers ``Cache-Control: no-store`` (it shows a session's data) and a strict
  Content-Security-Policy: only this origin's scripts, styles and connections; no framing.
- Never rate-limited (HTML pages; the API calls they make are limited as usual).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from errors import ApiError
from middleware.rate_limits import exempt_from_limits
from models import User
from services import auth

bp = exempt_from_limits(Blueprint("dashboard", __name__))

ADMIN_API = "/api/v1/admin/cache"
ROUTES_PATH = f"{ADMIN_API}/routes"
DEFAULT_NEXT = "/admin"
# A local absolute path: no scheme, no "//host", no backslashes (browsers read "/\\" as "//").
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%-]*")
COUNTER_NAMES = ("hit", "miss", "stale", "bypass", "store", "error")

HTML_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One cacheable route as the dashboard shows it."""

    endpoint: str
    rule: str
    scope: str
    ttl: int
    default_ttl: int
    enabled: bool
    counters: Mapping[str, int]

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> RouteRow:
        raw = item.get("counters") or {}
        return cls(
            endpoint=str(item["endpoint"]),
            rule=str(item.get("rule", "")),
            scope=str(item.get("scope", "")),
            ttl=round(float(item.get("ttl") or 0)),
            default_ttl=round(float(item.get("default_ttl") or 0)),
            enabled=bool(item.get("enabled")),
            counters={name: int(raw.get(name, 0)) for name in COUNTER_NAMES},
        )

    @property
    def hit_ratio(self) -> float | None:
        return hit_ratio([self])


def hit_ratio(rows: list[RouteRow]) -> float | None:
    """Share of cacheable requests answered from the cache: (hit + stale) / (hit + stale + miss).

    Bypasses are left out: they were never eligible (a disabled route, a logged-in client on a
    public route, Redis down), and are shown on their own.
    """
    served = sum(row.counters["hit"] + row.counters["stale"] for row in rows)
    total = served + sum(row.counters["miss"] for row in rows)
    return served / total if total else None


def safe_next(value: str | None) -> str:
    return value if value and _LOCAL_PATH.fullmatch(value) else DEFAULT_NEXT


def route_items(payload: Any) -> list[Mapping[str, Any]]:
    """The admin API's list, bare or wrapped as ``{"routes": [...]}`` / ``{"data": [...]}``."""
    if isinstance(payload, Mapping):
        payload = payload.get("routes", payload.get("data", []))
    return [item for item in payload or [] if isinstance(item, Mapping) and "endpoint" in item]


def load_routes() -> tuple[list[RouteRow], str | None]:
    """Rows from the admin API's view, or an explanation for the page when there are none."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, args = adapter.match(ROUTES_PATH, method="GET")
    except HTTPException:
        return [], f"The cache admin API (GET {ROUTES_PATH}) is not installed in this app."
    try:
        answer: Any = current_app.view_functions[endpoint](**args)
        response = current_app.make_response(answer)
    except HTTPException as error:
        message = error.message if isinstance(error, ApiError) else error.description
        return [], f"The cache admin API answered {error.code}: {message}"
    if response.status_code != 200:
        return [], f"The cache admin API answered {response.status_code}."
    rows = [RouteRow.from_api(item) for item in route_items(response.get_json(silent=True))]
    return sorted(rows, key=lambda row: row.endpoint), None


def error_page(code: int, title: str, message: str, user: User | None = None) -> Response:
    html = render_template("error.html", code=code, title=title, message=message, user=user)
    return Response(html, status=code)


@bp.after_request
def html_headers(response: Response) -> Response:
    response.headers.update(HTML_HEADERS)
    return response


@bp.get("/login")
def login() -> str:
    return render_template("login.html", next_url=safe_next(request.args.get("next")))


@bp.get("/admin")
def dashboard() -> Response | str:
    try:
        user = auth.require_user()
    except ApiError as error:
        if error.code == 401:
            return redirect(f"/login?next={DEFAULT_NEXT}", code=302)  # type: ignore[return-value]
        page = error_page(error.code or 503, "Sign-in unavailable", error.message)
        page.headers.update(error.extra_headers)
        return page
    if not user.is_admin:
        message = "The cache dashboard is for administrators."
        return error_page(403, "Administrator access required", message, user)
    routes, problem = load_routes()
    return render_template(
        "dashboard.html",
        user=user,
        routes=routes,
        problem=problem,
        overall_ratio=hit_ratio(routes),
        admin_api=ADMIN_API,
    )


def init_dashboard(app: Flask) -> None:
    app.register_blueprint(bp)
