"""Oversized requests and cache-key injection, against a real gunicorn on real Redis.

Oversized: a 16 KB request line, a 64 KB header, 150 headers, a 3 KB query (under
gunicorn's limits, over the cache's 2 KB key bound). gunicorn refuses the first
three before the app (400/414/431), the app answers the last uncached; none of
these errors is stored, and the clean request after each is the same 200 hit.
Catalogue row 30 (and CPDoS: errors are never cached).

Key injection: query values and operators' purge tags made of the characters that
break naive keys (``:``, ``*``, ``[a]``, ``?``, a newline, 1 KB strings). Names are
hashed over a length-prefixed encoding (D14), so different values never share an
entry; a purge by such a tag removes exactly the entries carrying it and nothing
outside the cache namespace (session and limiter keys survive). (The purge schema
trims whitespace around a tag, so ``posts\n`` would mean ``posts``: tolerance for
an operator's typo, not an injection.) Catalogue row 31.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.attacks.conftest import Site
from tests.attacks.raw_http import RawReply, raw_request
from tests.faults.harness import DEMO_PASSWORD, LOGIN, POSTS, session_cookie


def clean(site: Site, target: str = POSTS) -> RawReply:
    return raw_request(site.server.port, "GET", target)


OVERSIZED = {
    "request-line-16KB": lambda port: raw_request(port, "GET", f"{POSTS}?q={'a' * 16384}"),
    "header-64KB": lambda port: raw_request(
        port, "GET", POSTS, [("Host", f"127.0.0.1:{port}"), ("X-Big", "b" * 65536)]
    ),
    "150-headers": lambda port: raw_request(
        port,
        "GET",
        POSTS,
        [("Host", f"127.0.0.1:{port}"), *((f"X-H{i}", "v") for i in range(150))],
    ),
    "query-3KB": lambda port: raw_request(port, "GET", f"{POSTS}?utm_x=1&q={'c' * 3000}"),
}


@pytest.mark.parametrize("kind", list(OVERSIZED))
def test_oversized_requests_are_refused_and_never_cached(
    site: Site, kind: str, reliability_case: Any
) -> None:
    clean(site)
    before = clean(site)
    entries_before = len(site.response_entries())
    attack = OVERSIZED[kind](site.server.port)
    again = OVERSIZED[kind](site.server.port)
    after = [clean(site) for _ in range(4)]
    entries_after = len(site.response_entries())
    reliability_case.record(
        case=f"oversized-{kind}",
        fault=f"GET {POSTS} with a {kind.replace('-', ' ')}",
        behaviour=f"{attack.status} (then {again.status}); the clean requests after were "
        f"{sorted({r.status for r in after})} {sorted({r.x_cache for r in after})}, unpoisoned",
        catalogue=(30,),
        status=attack.status,
        cached_error=int(again.x_cache == "HIT"),
        new_entries=entries_after - entries_before,
        poisoned=sum(reply.body != before.body for reply in after),
    )
    assert attack.status in (200, 400, 414, 431)
    assert again.x_cache != "HIT"
    if attack.status == 200:  # under gunicorn's limits: served, but never keyed
        assert attack.x_cache == "BYPASS" and "query-too-large" in attack.headers["cache-status"]
    assert entries_after == entries_before
    assert all(reply.status == 200 and reply.body == before.body for reply in after)


INJECTION = [":", "*", "[a]", "?*", "a:b", "posts:list", "\n", "x\ny", "%", "k" * 50]


@pytest.mark.parametrize("value", INJECTION, ids=[repr(v)[:12] for v in INJECTION])
def test_query_values_with_key_delimiters_get_their_own_entries(
    site: Site, value: str, reliability_case: Any
) -> None:
    target = f"{POSTS}?tag={quote(value, safe='')}&limit=2"
    first, second = clean(site, target), clean(site, target)
    neighbour = clean(site, f"{POSTS}?tag=tag1&limit=2")
    reliability_case.record(
        case=f"key-injection-query-{value[:12]!r}",
        fault=f"GET {POSTS}?tag=<{value!r}>",
        behaviour=f"{first.status} {first.x_cache} then {second.x_cache}; tag1's entry kept "
        "its own answer",
        catalogue=(31,),
        status=first.status,
        collided=int(neighbour.body == first.body and first.status == 200),
    )
    assert first.status in (200, 422)
    if first.status == 200:
        assert second.x_cache == "HIT" and second.body == first.body
        assert b'"data":[]' in first.body  # no post has that tag
    else:
        assert second.x_cache != "HIT"
    assert b'"name":"tag1"' in neighbour.body


def test_a_1kb_query_value_is_refused_and_mints_no_key(site: Site) -> None:
    before = len(site.redis_keys("{rc}:e:"))
    reply = clean(site, f"{POSTS}?tag={'t' * 1024}")
    assert reply.status == 422
    assert len(site.redis_keys("{rc}:e:")) == before


def admin(site: Site) -> str:
    reply = site.http.request(
        "POST", LOGIN, body={"email": "user1@example.com", "password": DEMO_PASSWORD}
    )
    cookie = session_cookie(reply)
    assert reply.status == 200 and cookie
    return cookie


@pytest.mark.parametrize(
    "tag", ["*", "post:*", "[a]", "pos?s", "pos\nts", "post:1 OR 1", "x" * 200]
)
def test_purging_a_tag_full_of_glob_characters_touches_only_that_tag(
    site: Site, tag: str, reliability_case: Any
) -> None:
    cookie = admin(site)
    for target in (POSTS, f"{POSTS}/40", f"{POSTS}/39"):
        clean(site, target)
    sessions_before = site.redis_keys("sess:")
    limits_before = site.redis_keys("rl:")
    purge = site.http.request(
        "POST", "/api/v1/admin/cache/purge", body={"tags": [tag]}, cookie=cookie
    )
    after = {target: clean(site, target) for target in (POSTS, f"{POSTS}/40", f"{POSTS}/39")}
    reliability_case.record(
        case=f"key-injection-purge-{tag[:12]!r}",
        fault=f"POST /api/v1/admin/cache/purge {{tags: [{tag[:40]!r}]}} as the admin",
        behaviour=f"{purge.status}; every cached route still a hit, sessions and limiter "
        "keys untouched",
        catalogue=(31,),
        status=purge.status,
        entries_lost=sum(reply.x_cache != "HIT" for reply in after.values()),
        session_keys_lost=len(set(sessions_before) - set(site.redis_keys("sess:"))),
    )
    assert purge.status in (200, 422), purge
    assert all(reply.x_cache == "HIT" for reply in after.values()), after
    assert set(sessions_before) <= set(site.redis_keys("sess:"))
    assert set(limits_before) <= set(site.redis_keys("rl:"))


def test_purging_the_real_tag_removes_exactly_its_entries(site: Site) -> None:
    cookie = admin(site)
    for target in (POSTS, f"{POSTS}/40", f"{POSTS}/39"):
        clean(site, target)
    purge = site.http.request(
        "POST", "/api/v1/admin/cache/purge", body={"tags": ["post:40"]}, cookie=cookie
    )
    assert purge.status == 200
    assert clean(site, f"{POSTS}/40").x_cache == "MISS"
    assert clean(site, f"{POSTS}/39").x_cache == "HIT"
