"""Shapes shared by every blueprint."""

from __future__ import annotations

from marshmallow import Schema, fields


class ApiErrorSchema(Schema):
    status = fields.String(required=True, metadata={"example": "error"})
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)
    redis = fields.String(required=True, metadata={"enum": ["up", "down", "disabled"]})
