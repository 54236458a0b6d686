# mypy: allow-untyped-defs, allow-incomplete-defs
"""The caching contract (policy.py), as pure unit tests: no app, no I/O."""

from __future__ import annotations

import pytest
from flask_response_cache import policy
from flask_response_cache.policy import (
    PUBLIC,
    USER,
    accepts_gzip,
    etag_matches,
    has_request_body,
    request_bypass_reason,
    response_refusal_reason,
    scope_key,
    storable_headers,
)

ALLOWED_VARY = frozenset({"accept-encoding", "cookie", "authorization"})


def bypass(**overrides):
    facts = {
        "method": "GET",
        "scope": PUBLIC,
        "has_body": False,
        "has_authorization": False,
        "has_credential_cookie": False,
        "oversized_query": False,
    }
    return request_bypass_reason(**{**facts, **overrides})


def refusal(headers=(), **overrides):
    facts = {
        "status": 200,
        "headers": list(headers),
        "scope": PUBLIC,
        "allowed_vary": ALLOWED_VARY,
        "streamed": False,
        "body_size": 10,
        "max_body_bytes": 1000,
        "session_modified": False,
    }
    return response_refusal_reason(**{**facts, **overrides})


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_and_head_may_use_the_cache(method):
    assert bypass(method=method) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
def test_other_methods_bypass(method):
    assert bypass(method=method) == policy.METHOD


def test_get_with_a_body_bypasses():
    assert bypass(has_body=True) == policy.REQUEST_BODY


def test_public_entry_never_used_with_authorization_or_session_cookie():
    assert bypass(has_authorization=True) == policy.AUTHORIZATION
    assert bypass(has_credential_cookie=True) == policy.SESSION


def test_user_route_uses_its_per_user_entry_despite_credentials():
    assert bypass(scope=USER, has_authorization=True, has_credential_cookie=True) is None


def test_oversized_query_bypasses():
    assert bypass(oversized_query=True) == policy.QUERY_TOO_LARGE


def test_scope_key_public_and_per_user():
    assert scope_key(PUBLIC, None) == "public"
    assert scope_key(USER, 7) == "user:7"
    assert scope_key(USER, None) is None  # nobody logged in: bypass


@pytest.mark.parametrize(
    ("length", "encoding", "expected"),
    [
        (None, None, False),
        ("0", None, False),
        ("", None, False),
        ("12", None, True),
        (None, "chunked", True),
        (None, "gzip, Chunked", True),
    ],
)
def test_request_body_detection(length, encoding, expected):
    assert has_request_body(length, encoding) is expected


def test_plain_200_is_storable():
    assert refusal([("Content-Type", "application/json")]) is None


@pytest.mark.parametrize("status", [201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 503])
def test_only_200_is_stored_by_default(status):
    assert refusal(status=status) == policy.STATUS


def test_cacheable_statuses_are_configurable():
    assert refusal(status=404, cacheable_statuses=frozenset({200, 404})) is None


def test_set_cookie_is_never_stored():
    assert refusal([("Set-Cookie", "session=abc")]) == policy.SET_COOKIE


def test_a_modified_session_is_never_stored():
    assert refusal(session_modified=True) == policy.SESSION_WRITE
    assert refusal(session_read_with_cookie=True) == policy.SESSION_WRITE


@pytest.mark.parametrize(
    "value",
    [
        "no-store",
        "no-cache",
        "private",
        "max-age=0",
        "public, s-maxage=0",
        'private="Set-Cookie"',
        "No-Store",
    ],
)
def test_refusing_cache_control_is_honoured_on_public_routes(value):
    assert refusal([("Cache-Control", value)]) == policy.CACHE_CONTROL


def test_private_is_expected_on_a_per_user_route_but_no_store_is_not():
    assert refusal([("Cache-Control", "private")], scope=USER) is None
    assert refusal([("Cache-Control", "private, no-store")], scope=USER) == policy.CACHE_CONTROL


def test_vary_star_and_undeclared_vary_are_refused():
    assert refusal([("Vary", "*")]) == policy.VARY
    assert refusal([("Vary", "Accept-Language")]) == policy.VARY
    assert refusal([("Vary", "Cookie, Accept-Encoding")]) is None
    with_language = ALLOWED_VARY | {"accept-language"}
    assert refusal([("Vary", "Accept-Language")], allowed_vary=with_language) is None


def test_streamed_encoded_and_oversized_bodies_are_refused():
    assert refusal(streamed=True) == policy.STREAMED
    assert refusal([("Content-Encoding", "br")]) == policy.CONTENT_ENCODING
    assert refusal(body_size=1001) == policy.TOO_LARGE
    assert refusal(body_size=1000) is None


def test_per_client_and_cache_owned_headers_are_stripped_before_storing():
    headers = [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "a=b"),
        ("X-RateLimit-Limit", "100"),
        ("X-RateLimit-Remaining", "99"),
        ("RateLimit", '"api";r=99;t=60'),
        ("RateLimit-Policy", '"api";q=100;w=60'),
        ("Retry-After", "5"),
        ("Date", "Thu, 01 Jan 2026 00:00:00 GMT"),
        ("X-Request-ID", "abc"),
        ("Request-Id", "abc"),
        ("X-Correlation-ID", "abc"),
        ("ETag", '"view"'),
        ("Cache-Control", "public"),
        ("Content-Length", "12"),
        ("Connection", "close"),
        ("X-Cache", "HIT"),
        ("Link", "</a>; rel=next"),
        ("X-Total-Count", "12"),
    ]
    assert storable_headers(headers) == [
        ("Content-Type", "application/json"),
        ("Link", "</a>; rel=next"),
        ("X-Total-Count", "12"),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("", False),
        (None, False),
    ],
)
def test_if_none_match_uses_weak_comparison(header, expected):
    assert etag_matches(header, '"abc"') is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
        ("identity", False),
        ("", False),
        (None, False),
        ("*, gzip;q=0", False),
        ("x-gzip", True),
    ],
)
def test_accepts_gzip(header, expected):
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        ({"method": "POST"}, "method"),
        ({"content_length": "3"}, "request-body"),
        ({"transfer_encoding": "chunked"}, "request-body"),
        ({"has_authorization": True}, "authorization"),
        ({"cookie_header": "remember_token=x"}, "session"),
    ],
)
def test_every_refusal_of_the_flask_path_is_refused_below_flask_too(request_, reason):
    """``may_answer_below_flask`` is a superset of ``request_bypass_reason``'s refusals."""
    cookies = ("session", "remember_token")
    raw = {
        "method": "GET",
        "has_authorization": False,
        "cookie_header": None,
        "content_length": None,
        "transfer_encoding": None,
        **request_,
    }
    assert (
        policy.request_bypass_reason(
            method=raw["method"],
            scope=policy.PUBLIC,
            has_body=policy.has_request_body(raw["content_length"], raw["transfer_encoding"]),
            has_authorization=raw["has_authorization"],
            has_credential_cookie=bool(raw["cookie_header"]),
            oversized_query=False,
        )
        == reason
    )
    assert not policy.may_answer_below_flask(credential_cookies=cookies, upgrade=False, **raw)


def test_a_request_without_credentials_or_body_may_be_answered_below_flask():
    assert policy.may_answer_below_flask(
        method="HEAD",
        has_authorization=False,
        cookie_header="theme=dark",
        credential_cookies=("session", "remember_token"),
        content_length="0",
        transfer_encoding=None,
        upgrade=False,
    )
