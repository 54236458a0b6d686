"""``GET /api/v1/health``: liveness of the database and Redis. Never cached,
never rate-limited; Redis being down is reported, not an error."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from middleware.rate_limits import exempt_from_limits
from redis_link import current_link
from schemas.common import HealthSchema

bp = exempt_from_limits(
    Blueprint("health", __name__, url_prefix="/api/v1", description="Service health")
)


@bp.route("/health")
@bp.alt_response(200, schema=HealthSchema, success=True, description="Component states")
@bp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
def health() -> tuple[dict[str, Any], int, dict[str, str]]:
    try:
        # Touch a real table: on SQLite "SELECT 1" succeeds even when the file is unreadable.
        db.session.execute(text("SELECT 1 FROM users LIMIT 1"))
        database = "up"
    except SQLAlchemyError:
        db.session.rollback()
        database = "down"
    link = current_link()
    redis_state = "disabled" if link is None else ("up" if link.ping() else "down")
    status = "ok" if database == "up" else "degraded"
    code = 200 if database == "up" else 503
    body = {"status": status, "database": database, "redis": redis_state}
    return body, code, {"Cache-Control": "no-store"}
