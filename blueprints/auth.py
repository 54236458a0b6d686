"""``/api/v1/auth``: register, login, logout, logout-all, me.

Every route here is limited by ``RATELIMIT_AUTH`` on top of ``RATELIMIT_API``
(rate_limits.py) and answers ``Cache-Control: no-store``. Outage and throttling
behaviour is in services/auth.py.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from middleware.rate_limits import limit_auth_routes
from schemas.auth import LoginIn, RegisterIn, UserOut
from schemas.common import ApiErrorSchema
from services import auth, users

bp = limit_auth_routes(
    Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Authentication")
)

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/register", methods=["POST"])
@bp.arguments(RegisterIn())
@bp.alt_response(201, schema=UserOut, success=True, description="Created")
@bp.alt_response(409, schema=ApiErrorSchema, description="Email taken")
def register(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    user = users.register(data["email"], data["name"], data["password"])
    return users.user_to_dict(user), 201, NO_STORE


@bp.route("/login", methods=["POST"])
@bp.arguments(LoginIn())
@bp.alt_response(200, schema=UserOut, success=True, description="Logged in")
@bp.alt_response(401, schema=ApiErrorSchema, description="Invalid email or password")
@bp.alt_response(429, schema=ApiErrorSchema, description="Too many attempts (Retry-After)")
@bp.alt_response(503, schema=ApiErrorSchema, description="Sessions unavailable (Retry-After)")
def login(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    user = auth.log_in(data["email"], data["password"])
    return users.user_to_dict(user), 200, NO_STORE


@bp.route("/logout", methods=["POST"])
@bp.alt_response(204, success=True, description="Logged out (every session of the user)")
@bp.alt_response(503, schema=ApiErrorSchema, description="Sessions unavailable (Retry-After)")
def logout() -> tuple[str, int, dict[str, str]]:
    auth.log_out()
    return "", 204, NO_STORE


@bp.route("/logout-all", methods=["POST"])
@bp.alt_response(204, success=True, description="Every session of the user ended")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(503, schema=ApiErrorSchema, description="Sessions unavailable (Retry-After)")
def logout_all() -> tuple[str, int, dict[str, str]]:
    auth.log_out_everywhere()
    return "", 204, NO_STORE


@bp.route("/me")
@bp.alt_response(200, schema=UserOut, success=True, description="The logged-in user")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(503, schema=ApiErrorSchema, description="Sessions unavailable (Retry-After)")
def me() -> tuple[dict[str, Any], int, dict[str, str]]:
    user = auth.require_user()
    return users.user_to_dict(user), 200, {"Cache-Control": "private, no-store"}
