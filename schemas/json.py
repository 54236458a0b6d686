"""orjson as Flask's JSON provider.

Contract: datetimes serialise as ISO 8601 (aware UTC values end in ``Z`` once
passed through ``iso_utc``), keys keep insertion order, responses carry the
bytes orjson produced without a decode/encode round trip. Keys must be strings
(``OPT_NON_STR_KEYS`` would make every response ~75% slower to encode; the one
place with integer keys, validation errors, converts them in ``errors.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import orjson
from flask import Flask, Response
from flask.json.provider import JSONProvider


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def iso_utc(value: datetime) -> str:
    """``2026-11-26T12:00:00.123456Z``: one spelling on SQLite and PostgreSQL."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=_default).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=_default)
        # ``_app`` is typed as the sans-IO app; the class is Flask's Response.
        response_class = cast("type[Response]", self._app.response_class)
        return response_class(body, mimetype="application/json")


def init_json(app: Flask) -> None:
    app.json = OrjsonProvider(app)
