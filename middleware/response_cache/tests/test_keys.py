# mypy: allow-untyped-defs, allow-incomplete-defs
"""Canonical names (keys.py), as pure unit tests: no app, no I/O."""

from __future__ import annotations

import fnmatch

import pytest
from flask_response_cache.keys import (
    MAX_QUERY_BYTES,
    MAX_QUERY_PARAMS,
    cache_name,
    canonical_query,
    endpoint_pattern,
    query_is_oversized,
)
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder

ALLOWED = frozenset({"page", "limit", "tag"})


def name(**overrides):
    parts: dict[str, object] = {
        "endpoint": "posts.list_posts",
        "method": "GET",
        "view_args": {},
        "query": (),
        "vary": (),
        "scope": "public",
        "host": None,
    }
    return cache_name(**{**parts, **overrides})


def test_name_has_a_readable_prefix_and_a_sha256_digest():
    value = name()
    prefix, digest = value.rsplit(":", 1)
    assert prefix == "http:posts.list_posts"
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_name_is_deterministic():
    assert name(query=(("page", "1"),)) == name(query=(("page", "1"),))


def test_head_shares_the_get_entry_and_other_methods_do_not():
    assert name(method="HEAD") == name(method="GET")
    assert name(method="POST") != name(method="GET")


@pytest.mark.parametrize(
    "changed",
    [
        {"endpoint": "posts.get_post"},
        {"view_args": {"post_id": 1}},
        {"query": (("page", "2"),)},
        {"vary": (("Accept-Language", "fr"),)},
        {"scope": "user:7"},
        {"host": "example.com"},
    ],
)
def test_every_part_changes_the_name(changed):
    assert name(**changed) != name()


def test_view_arg_values_and_types_are_keyed():
    assert name(view_args={"post_id": 1}) != name(view_args={"post_id": 2})
    assert name(view_args={"post_id": 1}) != name(view_args={"post_id": "1"})


def test_absent_vary_header_differs_from_empty_one():
    assert name(vary=(("X-Tenant", None),)) != name(vary=(("X-Tenant", ""),))


def test_vary_values_are_normalised():
    assert name(vary=(("Accept-Language", "fr ,  en"),)) == name(
        vary=(("accept-language", "fr,en"),)
    )


def test_users_never_share_names():
    assert name(scope="user:1") != name(scope="user:2")
    assert name(scope="user:1") != name(scope="public")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # delimiters inside parts cannot shift the boundaries between parts
        ({"query": (("a", "b&c=d"),)}, {"query": (("a", "b"), ("c", "d"))}),
        ({"query": (("a:b", "c"),)}, {"query": (("a", "b:c"),)}),
        ({"view_args": {"a": "1", "b": "2"}}, {"view_args": {"a": "1\x00b\x002"}}),
        ({"query": (("x", ""),)}, {"query": (("", "x"),)}),
        ({"query": (("page", "1"),), "vary": ()}, {"query": (), "vary": (("page", "1"),)}),
        ({"endpoint": "a.b", "host": None}, {"endpoint": "a", "host": ".b"}),
    ],
)
def test_no_two_different_inputs_collide(left, right):
    assert name(**left) != name(**right)


def test_glob_characters_in_an_endpoint_cannot_widen_purge_patterns():
    value = name(endpoint="posts.*[x]?")
    assert value.startswith("http:posts.__x__:")
    assert not fnmatch.fnmatchcase(
        name(endpoint="posts.list_posts"), endpoint_pattern("posts.*[x]?")
    )


def test_endpoint_pattern_matches_its_names_only():
    pattern = endpoint_pattern("posts.list_posts")
    assert fnmatch.fnmatchcase(name(), pattern)
    assert not fnmatch.fnmatchcase(name(endpoint="posts.list_posts_v2"), pattern)


def parse(query: str):
    """The pairs the view receives (werkzeug's own parsing of the query string)."""
    return list(EnvironBuilder(query_string=query).get_request().args.items(multi=True))


def test_allow_list_keeps_declared_params_first_value_sorted():
    pairs = parse("tag=x&page=2&page=1&utm_source=mail&debug=1")
    assert canonical_query(pairs, ALLOWED) == (("page", "2"), ("tag", "x"))


def test_allow_list_first_value_is_what_the_view_reads():
    pairs = parse("page=2&page=1")
    assert canonical_query(pairs, ALLOWED) == (("page", MultiDict(pairs).get("page")),)


def test_order_of_parameters_does_not_matter():
    assert canonical_query(parse("limit=5&page=2"), ALLOWED) == canonical_query(
        parse("page=2&limit=5"), ALLOWED
    )


def test_parameter_cloaking_with_semicolons_is_one_parameter():
    # '?page=1;page=2' is one parameter 'page' = '1;page=2' for werkzeug and the
    # view alike: it can never be read as page=2 under page=1's name.
    assert canonical_query(parse("page=1;page=2"), ALLOWED) == (("page", "1;page=2"),)
    assert canonical_query(parse("page=1;page=2"), ALLOWED) != canonical_query(
        parse("page=1"), ALLOWED
    )


def test_without_allow_list_tracking_params_drop_and_duplicates_stay_in_order():
    pairs = parse("b=2&utm_source=x&a=1&gclid=z&FBCLID=y&b=1")
    assert canonical_query(pairs, None) == (("a", "1"), ("b", "2"), ("b", "1"))
    assert canonical_query(parse("b=1&b=2"), None) != canonical_query(parse("b=2&b=1"), None)


def test_oversized_queries_are_not_named():
    assert not query_is_oversized(b"")
    assert not query_is_oversized(b"&".join([b"a=1"] * MAX_QUERY_PARAMS))
    assert query_is_oversized(b"&".join([b"a=1"] * (MAX_QUERY_PARAMS + 1)))
    assert not query_is_oversized(b"a=" + b"x" * (MAX_QUERY_BYTES - 2))
    assert query_is_oversized(b"a=" + b"x" * (MAX_QUERY_BYTES - 1))
    assert query_is_oversized("a=" + "x" * MAX_QUERY_BYTES)
