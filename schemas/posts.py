"""Post request and response shapes."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import QueryInteger, Text

# Tags are compared and stored trimmed, so a name is validated trimmed too.
TagName = Text(strip=True, validate=validate.Length(min=1, max=50))


class PostIn(Schema):
    class Meta:
        unknown = EXCLUDE

    title = Text(required=True, strip=True, validate=validate.Length(min=1, max=200))
    body = Text(required=True, validate=validate.Length(min=1, max=100_000))
    published = fields.Boolean(load_default=True)
    tags = fields.List(TagName, load_default=list, validate=validate.Length(max=20))


class PostPatch(Schema):
    class Meta:
        unknown = EXCLUDE

    title = Text(strip=True, validate=validate.Length(min=1, max=200))
    body = Text(validate=validate.Length(min=1, max=100_000))
    published = fields.Boolean()
    tags = fields.List(TagName, validate=validate.Length(max=20))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of title, body, published, tags.")


class PageQuery(Schema):
    # Unknown parameters (utm_*, cache busters) are ignored, never a 500.
    class Meta:
        unknown = EXCLUDE

    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    limit = QueryInteger(load_default=20, validate=validate.Range(min=1, max=100))


class PostListQuery(PageQuery):
    author_id = QueryInteger(validate=validate.Range(min=1, max=2**31 - 1))
    tag = Text(validate=validate.Length(min=1, max=50))


class AuthorOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class TagOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class PostOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    body = fields.String(required=True)
    published = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    author = fields.Nested(AuthorOut, required=True)
    tags = fields.List(fields.Nested(TagOut), required=True)


class PageMeta(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class PostPage(Schema):
    data = fields.List(fields.Nested(PostOut), required=True)
    meta = fields.Nested(PageMeta, required=True)
