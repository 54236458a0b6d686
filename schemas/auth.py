"""Auth request and response shapes."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from schemas.fields import Text


class RegisterIn(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = Text(required=True, strip=True, validate=validate.Length(min=1, max=100))
    # OWASP: at least 8, allow long passphrases, never truncate silently.
    password = fields.String(required=True, validate=validate.Length(min=8, max=256))


class LoginIn(Schema):
    class Meta:
        unknown = EXCLUDE

    email = Text(required=True, validate=validate.Length(min=1, max=254))
    # Bounded so a huge password cannot buy minutes of hashing.
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class UserOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
