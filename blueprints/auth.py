"""``/api/v1/auth``: register, login, logout, me."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from errors import ApiError
from schemas.auth import LoginIn, RegisterIn, UserOut
from schemas.common import ApiErrorSchema
from services import auth, users

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Authentication")

NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/register", methods=["POST"])
@bp.arguments(RegisterIn)
@bp.alt_response(201, schema=UserOut, success=True, description="Created")
@bp.alt_response(409, schema=ApiErrorSchema, description="Email taken")
def register(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    user = users.register(data["email"], data["name"], data["password"])
    return users.user_to_dict(user), 201, NO_STORE


@bp.route("/login", methods=["POST"])
@bp.arguments(LoginIn)
@bp.alt_response(200, schema=UserOut, success=True, description="Logged in")
@bp.alt_response(401, schema=ApiErrorSchema, description="Invalid email or password")
def login(data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    user = users.authenticate(data["email"], data["password"])
    if user is None:
        raise ApiError(401, "Invalid email or password")
    auth.login(user)
    return users.user_to_dict(user), 200, NO_STORE


@bp.route("/logout", methods=["POST"])
@bp.alt_response(204, success=True, description="Logged out")
def logout() -> tuple[str, int, dict[str, str]]:
    auth.logout()
    return "", 204, NO_STORE


@bp.route("/me")
@bp.alt_response(200, schema=UserOut, success=True, description="The logged-in user")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
def me() -> tuple[dict[str, Any], int, dict[str, str]]:
    user = auth.require_user()
    return users.user_to_dict(user), 200, {"Cache-Control": "private, no-store"}
