"""Canonical cache names for HTTP responses: plain values in, one name out.

A name is built from everything that can change a response of a declared
route, and from nothing else:

- the **method family** (``GET``; a HEAD is answered from the GET entry);
- the **matched endpoint and its view arguments** (never the raw path: a
  ``/posts/1.css`` that routes nowhere is never a name, and ``/posts/01``
  and ``/posts/1`` that route to the same arguments share one);
- the **canonical query**: with an allow-list (the route's declared
  parameters), only those names, each with its *first* value (what
  ``MultiDict.get`` and webargs return to the view), sorted by name; without
  one, every parameter except tracking ones (``utm_*``, ``gclid``,
  ``fbclid``...), sorted by name with duplicates kept in their order. Queries
  over ``MAX_QUERY_BYTES`` bytes or ``MAX_QUERY_PARAMS`` parameters are not
  named at all (the request bypasses), so nobody can mint keys without bound;
- the values of the route's **Vary'd request headers**, normalised
  (whitespace collapsed, list items trimmed), absent distinct from empty;
- the **scope**: ``public``, or ``user:<id>`` for per-user entries;
- the **request host**, only for routes that declare ``key_host``;
- the **format version** ``KEY_FORMAT_VERSION`` (bump it and every old name
  becomes unreachable).

Each part is length-prefixed and each variable section carries its item
count, then the whole encoding is hashed with SHA-256: two different inputs
never share an encoding, so delimiters or glob characters inside a part
(``:``, ``|``, ``*``, newlines) cannot make two names collide or match an
operator's purge pattern. The name keeps a readable prefix,
``http:<endpoint>:<hex digest>``, so operators can purge one endpoint with a
pattern (``http:posts.list_posts:*``).

Nothing here touches Flask or storage: the WSGI fast path (``fast_path.py``)
builds names with the same function from the raw WSGI environ, so both paths
share entries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

KEY_FORMAT_VERSION = 1
MAX_QUERY_BYTES = 2048
MAX_QUERY_PARAMS = 32
NAME_PREFIX = "http:"

TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset(
    {
        "gclid",
        "fbclid",
        "msclkid",
        "dclid",
        "gbraid",
        "wbraid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
    }
)

QueryPairs = tuple[tuple[str, str], ...]

_UNSAFE_IN_PREFIX = re.compile(r"[^A-Za-z0-9._-]")


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def query_is_oversized(raw_query: bytes | str) -> bool:
    """Too long or too many parameters to be worth a name (counted on the raw bytes)."""
    if len(raw_query) > MAX_QUERY_BYTES:
        return True
    if isinstance(raw_query, bytes):
        separators = raw_query.count(b"&")
    else:
        separators = raw_query.count("&")
    return separators + 1 > MAX_QUERY_PARAMS


def canonical_query(pairs: Iterable[tuple[str, str]], allowed: frozenset[str] | None) -> QueryPairs:
    """The query as the view sees it, in one canonical order.

    ``pairs`` are the parsed parameters in request order (werkzeug splits on
    ``&`` only, so ``page=1;page=2`` is one parameter ``page`` whose value is
    ``1;page=2``, exactly what the view receives).
    """
    if allowed is not None:
        first: dict[str, str] = {}
        for name, value in pairs:
            if name in allowed and name not in first:
                first[name] = value
        return tuple(sorted(first.items()))
    kept = [(name, value) for name, value in pairs if not is_tracking_param(name)]
    kept.sort(key=lambda pair: pair[0])  # stable: duplicates keep their order
    return tuple(kept)


def normalise_header_value(value: str | None) -> str | None:
    if value is None:
        return None
    items = (" ".join(item.split()) for item in value.split(","))
    return ",".join(items)


def readable_prefix(endpoint: str) -> str:
    """``http:<endpoint>:``, with anything outside ``[A-Za-z0-9._-]`` replaced."""
    return f"{NAME_PREFIX}{_UNSAFE_IN_PREFIX.sub('_', endpoint)}:"


def endpoint_pattern(endpoint: str) -> str:
    """The glob matching every name of one endpoint (for bounded SCAN purges)."""
    return readable_prefix(endpoint) + "*"


def _frame(parts: list[bytes]) -> bytes:
    out = bytearray()
    for part in parts:
        out += len(part).to_bytes(4, "big")
        out += part
    return bytes(out)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _optional(value: str | None) -> bytes:
    return b"-" if value is None else b"+" + _encode(value)


def cache_name(
    *,
    endpoint: str,
    method: str,
    view_args: Mapping[str, object],
    query: Sequence[tuple[str, str]],
    vary: Sequence[tuple[str, str | None]] = (),
    scope: str = "public",
    host: str | None = None,
) -> str:
    """The name of the entry holding this request's response."""
    family = "GET" if method in ("GET", "HEAD") else method
    parts = [
        str(KEY_FORMAT_VERSION).encode(),
        _encode(family),
        _encode(endpoint),
        str(len(view_args)).encode(),
    ]
    for arg in sorted(view_args):
        value = view_args[arg]
        parts += [_encode(arg), _encode(type(value).__name__), _encode(str(value))]
    parts.append(str(len(query)).encode())
    for name, value in query:
        parts += [_encode(name), _encode(value)]
    parts.append(str(len(vary)).encode())
    for header, header_value in vary:
        parts += [_encode(header.lower()), _optional(normalise_header_value(header_value))]
    parts += [_encode(scope), _optional(host.lower() if host is not None else None)]
    digest = hashlib.sha256(_frame(parts)).hexdigest()
    return readable_prefix(endpoint) + digest
