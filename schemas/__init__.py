"""marshmallow schemas: request validation and the OpenAPI document.

Input schemas validate; output schemas only document (views serialise dicts
with orjson, which is several times faster than marshmallow dumping)."""
