"""Shapes of the operators' cache endpoints (``/api/v1/admin/cache/...``)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import Text

MAX_TTL = 86_400


class CacheCounters(Schema):
    hit = fields.Integer(required=True)
    miss = fields.Integer(required=True)
    stale = fields.Integer(required=True)
    bypass = fields.Integer(required=True)
    store = fields.Integer(required=True)
    error = fields.Integer(required=True)


class CacheRouteOut(Schema):
    endpoint = fields.String(required=True, metadata={"example": "posts.list_posts"})
    rule = fields.String(required=True, metadata={"example": "/api/v1/posts"})
    scope = fields.String(required=True, metadata={"enum": ["public", "user"]})
    ttl = fields.Float(required=True, metadata={"description": "Effective TTL, seconds"})
    default_ttl = fields.Float(required=True, metadata={"description": "Declared TTL, seconds"})
    enabled = fields.Boolean(required=True)
    counters = fields.Nested(CacheCounters, required=True)


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: not ``1``, ``"yes"`` or ``"on"``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class CacheRoutePatch(Schema):
    class Meta:
        unknown = RAISE

    enabled = StrictBoolean()
    ttl = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_TTL))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of enabled, ttl.")


class CachePurgeIn(Schema):
    class Meta:
        unknown = RAISE

    tags = fields.List(
        Text(strip=True, validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=50),
    )


class CachePurgeOut(Schema):
    purged_tags = fields.List(fields.String(), required=True)
