"""The caching contract: what may be served from, and stored in, the response cache.

Pure functions over plain values (no Flask globals, no I/O), so the rules are
tested without a server and reused by every adapter (the Flask hooks and the
WSGI fast path, ``fast_path.py``). RFC 9111 is the shared-cache standard followed; OWASP and
PortSwigger's cache-poisoning research motivate the stricter rules.

**Which routes.** Only routes that declare a scope (``@cache_response``) are
ever cached; an undeclared route, or one marked ``@no_cache``, never is.

**Which requests may use the cache** (``request_bypass_reason``):

1. Only GET and HEAD; a HEAD is answered from the GET entry (RFC 9111 §4).
2. A GET with a body (``Content-Length`` > 0 or chunked) bypasses: a "fat
   GET" whose body the view might read must not poison the body-less entry.
3. A *public* entry is never served to, nor filled by, a request carrying
   ``Authorization`` (RFC 9111 §3.5) or a credential cookie (the session
   cookie, Flask-Login's remember cookie, JWT cookies: ``settings.py``): the
   view may answer such a request differently (an author sees their own
   draft), so it bypasses. On a *user* route the same request gets its own per-user
   entry, keyed by the user id the application vouches for; without a
   logged-in user it bypasses (the view answers 401).
4. A query over 2 KB or 32 parameters bypasses instead of minting names.

**Which responses may be stored** (``response_refusal_reason``):

1. Status 200 only: errors are never stored, so an
   odd header or a failing database cannot be turned into a cached error for
   everyone (CPDoS).
2. Never a response with ``Set-Cookie``; never one the session was modified
   for (Flask-Session writes its ``Set-Cookie`` and ``Vary: Cookie`` *after*
   the cache's ``after_request`` hook, so the decision uses
   ``session.modified``, and a session read under a session cookie, which
   only a bypassing request can have).
3. Never ``Cache-Control: no-store``, ``no-cache``, ``max-age=0`` or
   ``s-maxage=0``; never ``private`` in a public entry (a per-user entry is
   that user's private cache, so ``private`` is expected there).
4. Never ``Vary: *``, nor a ``Vary`` naming a request header the route did
   not declare (the name would not distinguish the variants).
5. Never a streamed or ``direct_passthrough`` response, one with its own
   ``Content-Encoding``, or a body over the size limit.

**What is stored** (``storable_headers``): status, content type and every
other header exactly, except per-client headers (``Set-Cookie``,
``X-RateLimit-*``, ``RateLimit*``, ``Retry-After``, ``Date``, request-id and
trace headers), hop-by-hop headers, and the headers the cache itself writes
on every answer (``ETag``, ``Age``, ``Cache-Control``, ``Expires``,
``Vary``, ``Content-Length``, ``X-Cache``, ``Cache-Status``).

**Conditional requests** (``etag_matches``): ``If-None-Match`` uses the weak
comparison of RFC 9110 §13.1.2; ``*`` matches any stored entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

PUBLIC = "public"
USER = "user"
SCOPES = (PUBLIC, USER)
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})

# Reasons a request bypasses the cache (Cache-Status ``detail`` tokens).
METHOD = "method"
REQUEST_BODY = "request-body"
AUTHORIZATION = "authorization"
SESSION = "session"
ANONYMOUS = "anonymous"
QUERY_TOO_LARGE = "query-too-large"
DISABLED = "disabled"
NOT_DECLARED = "not-declared"
NO_CACHE = "no-cache"
UNAVAILABLE = "unavailable"

# Reasons a response is not stored.
STATUS = "status"
SET_COOKIE = "set-cookie"
SESSION_WRITE = "session"
CACHE_CONTROL = "cache-control"
VARY = "vary"
STREAMED = "streamed"
TOO_LARGE = "too-large"
CONTENT_ENCODING = "content-encoding"

PER_CLIENT_HEADERS = frozenset(
    {
        "set-cookie",
        "retry-after",
        "date",
        "ratelimit",
        "ratelimit-policy",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "traceparent",
        "tracestate",
        "server-timing",  # this request's own timing: a replayed one would lie
    }
)
PER_CLIENT_PREFIXES = ("x-ratelimit-",)
PER_CLIENT_FRAGMENTS = ("request-id", "correlation-id", "trace-id")
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
CACHE_OWNED = frozenset(
    {"etag", "age", "cache-control", "expires", "vary", "content-length", "x-cache", "cache-status"}
)


def request_bypass_reason(
    *,
    method: str,
    scope: str,
    has_body: bool,
    has_authorization: bool,
    has_credential_cookie: bool,
    oversized_query: bool,
) -> str | None:
    """Why this request must not use the cache, or None when it may."""
    if method not in CACHEABLE_METHODS:
        return METHOD
    if has_body:
        return REQUEST_BODY
    if scope == PUBLIC:
        if has_authorization:
            return AUTHORIZATION
        if has_credential_cookie:
            return SESSION
    if oversized_query:
        return QUERY_TOO_LARGE
    return None


def may_answer_below_flask(
    *,
    method: str | None,
    has_authorization: bool,
    cookie_header: str | None,
    credential_cookies: Sequence[str],
    content_length: str | None,
    transfer_encoding: str | None,
    upgrade: bool,
) -> bool:
    """May the fast path answer this request from a *public* entry? A strict superset of
    ``request_bypass_reason``'s refusals, from raw header values: a credential cookie's
    name appearing anywhere in ``Cookie`` is enough to refuse (Flask then parses it), and
    protocol upgrades are always Flask's. The query's size is checked with the name."""
    if method != "GET" and method != "HEAD":
        return False
    if has_authorization or upgrade:
        return False
    if cookie_header and any(name in cookie_header for name in credential_cookies):
        return False
    if content_length or transfer_encoding:
        return not has_request_body(content_length, transfer_encoding)
    return True


def has_request_body(content_length: str | None, transfer_encoding: str | None) -> bool:
    """A body is announced by a non-zero Content-Length or chunked transfer coding."""
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        return True
    return content_length is not None and content_length.strip() not in ("", "0")


def scope_key(scope: str, user_id: object | None) -> str | None:
    """The scope part of a name; None when a user route has no user (bypass)."""
    if scope == PUBLIC:
        return PUBLIC
    if user_id is None:
        return None
    return f"user:{user_id}"


def parse_directives(value: str | None) -> dict[str, str | None]:
    """``Cache-Control`` directives, names lower-cased, quoted values unquoted."""
    directives: dict[str, str | None] = {}
    if not value:
        return directives
    for item in value.split(","):
        name, sep, argument = item.strip().partition("=")
        if name:
            directives[name.lower()] = argument.strip().strip('"') if sep else None
    return directives


def _header_index(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for name, value in headers:
        index.setdefault(name.lower(), []).append(value)
    return index


def _cache_control_refusal(values: list[str], scope: str) -> str | None:
    directives = parse_directives(",".join(values))
    if "no-store" in directives or "no-cache" in directives:
        return CACHE_CONTROL
    if scope == PUBLIC and "private" in directives:
        return CACHE_CONTROL
    if directives.get("max-age") == "0" or directives.get("s-maxage") == "0":
        return CACHE_CONTROL
    return None


def _vary_refusal(values: list[str], allowed_vary: frozenset[str]) -> str | None:
    for value in values:
        for item in value.split(","):
            name = item.strip().lower()
            if name and (name == "*" or name not in allowed_vary):
                return VARY
    return None


def response_refusal_reason(
    *,
    status: int,
    headers: Sequence[tuple[str, str]],
    scope: str,
    allowed_vary: frozenset[str],
    streamed: bool,
    body_size: int,
    max_body_bytes: int,
    session_modified: bool,
    session_read_with_cookie: bool = False,
    cacheable_statuses: frozenset[int] = frozenset({200}),
) -> str | None:
    """Why this response must not be stored, or None when it may.

    ``allowed_vary``: lower-cased request headers the name already covers
    (the route's vary list, ``accept-encoding``, ``cookie`` and
    ``authorization``: requests with those bypass public entries and select
    per-user ones).
    """
    if status not in cacheable_statuses:
        return STATUS
    if streamed:
        return STREAMED
    if session_modified or session_read_with_cookie:
        return SESSION_WRITE
    index = _header_index(headers)
    if "set-cookie" in index:
        return SET_COOKIE
    if "content-encoding" in index:
        return CONTENT_ENCODING
    refusal = _cache_control_refusal(index.get("cache-control", []), scope)
    refusal = refusal or _vary_refusal(index.get("vary", []), allowed_vary)
    if refusal:
        return refusal
    if body_size > max_body_bytes:
        return TOO_LARGE
    return None


def is_stored_header(name: str) -> bool:
    lowered = name.lower()
    if lowered in PER_CLIENT_HEADERS or lowered in HOP_BY_HOP or lowered in CACHE_OWNED:
        return False
    if lowered.startswith(PER_CLIENT_PREFIXES):
        return False
    return not any(fragment in lowered for fragment in PER_CLIENT_FRAGMENTS)


def storable_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers kept in an entry and replayed on every hit, in their order."""
    return [(name, value) for name, value in headers if is_stored_header(name)]


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison; ``*`` matches any current entry."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Does the client accept ``gzip`` (RFC 9110 §12.5.3, ``q=0`` refuses)?"""
    if not accept_encoding:
        return False
    accepted: dict[str, bool] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        accepted[coding.strip().lower()] = not _is_q_zero(params)
    for coding in ("gzip", "x-gzip", "*"):
        if coding in accepted:
            return accepted[coding]
    return False


def _is_q_zero(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "q":
            try:
                return float(value) == 0
            except ValueError:
                return False
    return False
