"""``/api/v1/admin/cache/...``: operate the response cache (administrators only).

Contract:
- Every route answers 401 to anonymous callers and 403 to users who are not
  administrators, before the request body is read; never cached
  (``@no_cache`` and ``Cache-Control: no-store``).
- ``GET /cache/routes``: every cacheable route with its scope, effective and
  default TTL, enabled flag and counters.
- ``PATCH /cache/routes/<endpoint>`` ``{enabled?, ttl? (1..86400)}``: a
  runtime toggle, honoured by every worker of every instance within a second;
  404 for an endpoint that is not a cacheable route, 422 for a bad body.
- ``POST /cache/purge`` ``{tags: [1..50 tags]}``: invalidate those tags
  (journaled, so a purge made while Redis is down is applied when it returns).
- 503 with ``Retry-After`` when the cache storage cannot take a change.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask_response_cache import StorageUnavailable, UnknownRoute, no_cache
from flask_smorest import Blueprint

from cache import response_cache
from errors import ApiError
from schemas.admin import CachePurgeIn, CachePurgeOut, CacheRouteOut, CacheRoutePatch
from schemas.common import ApiErrorSchema
from services import auth

bp = Blueprint(
    "admin", __name__, url_prefix="/api/v1/admin", description="Cache operations (administrators)"
)

NO_STORE = {"Cache-Control": "no-store"}
Answer = tuple[Any, int, dict[str, str]]


@bp.before_request
def _administrators_only() -> None:
    auth.require_admin()


def _unavailable() -> ApiError:
    return ApiError(503, "The cache storage is unavailable.", headers={"Retry-After": "5"})


@bp.route("/cache/routes")
@bp.alt_response(200, schema=CacheRouteOut(many=True), success=True, description="Cached routes")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(403, schema=ApiErrorSchema, description="Not an administrator")
@no_cache
def list_cache_routes() -> Answer:
    return [asdict(route) for route in response_cache.routes()], 200, NO_STORE


@bp.route("/cache/routes/<endpoint>", methods=["PATCH"])
@bp.arguments(CacheRoutePatch())
@bp.alt_response(200, schema=CacheRouteOut, success=True, description="The route's new settings")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(403, schema=ApiErrorSchema, description="Not an administrator")
@bp.alt_response(404, schema=ApiErrorSchema, description="Not a cacheable route")
@bp.alt_response(503, schema=ApiErrorSchema, description="Cache storage unavailable")
@no_cache
def update_cache_route(changes: dict[str, Any], endpoint: str) -> Answer:
    try:
        info = response_cache.set_route(
            endpoint, enabled=changes.get("enabled"), ttl=changes.get("ttl")
        )
    except UnknownRoute:
        raise ApiError(404, f"{endpoint} is not a cacheable route.") from None
    except StorageUnavailable:
        raise _unavailable() from None
    return asdict(info), 200, NO_STORE


@bp.route("/cache/purge", methods=["POST"])
@bp.arguments(CachePurgeIn())
@bp.alt_response(200, schema=CachePurgeOut, success=True, description="Tags invalidated")
@bp.alt_response(401, schema=ApiErrorSchema, description="Not logged in")
@bp.alt_response(403, schema=ApiErrorSchema, description="Not an administrator")
@no_cache
def purge_cache(data: dict[str, Any]) -> Answer:
    tags = list(dict.fromkeys(data["tags"]))
    # Journaled: a purge made while Redis is down is applied when it answers again.
    response_cache.invalidate_tags(*tags)
    return {"purged_tags": tags}, 200, NO_STORE
