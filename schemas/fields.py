"""Field types shared by the input schemas: stricter than marshmallow's defaults.

- ``Text``: a string that never reaches the database with a NUL character
  (PostgreSQL text cannot store one: the driver raises and the request would
  be a 500) and, with ``strip=True``, is trimmed *before* its validators run,
  so ``"   "`` fails ``Length(min=1)`` instead of being stored as ``""``.
- ``QueryInteger``: an integer written in ASCII digits, as a URL carries it.
  ``int()`` also accepts ``"1_0"``, ``" 1"`` and non-ASCII digits (full-width one, U+FF11),
  which would give one page many spellings (and many cache keys).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields

_ASCII_INTEGER = re.compile(r"-?[0-9]{1,20}")


class Text(fields.String):
    default_error_messages = {"null_character": "Must not contain NUL characters."}

    def __init__(self, *, strip: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.strip = strip

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("null_character")
        return text.strip() if self.strip else text


class QueryInteger(fields.Integer):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not _ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return int(value)
