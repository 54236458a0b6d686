"""Cache poisoning, deception and cross-user leaks, attempted through a real gunicorn.

The in-process versions live in ``tests/response_cache/test_poisoning.py`` and
``test_scopes.py``; these send the same attacks as raw HTTP to two gunicorn
workers sharing Redis, where proxies' habits (absolute-form targets, repeated or
odd headers) and both workers' entries come into play. For each: what the
attacker got, and whether the next clean request (any worker) was poisoned.
Catalogue rows 32, 34-36, 39.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.attacks.conftest import Site
from tests.attacks.raw_http import RawReply, raw_request
from tests.faults.harness import DEMO_PASSWORD, LOGIN, POSTS, session_cookie

UNKEYED = [
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "gopher"),
    ("X-Forwarded-Scheme", "https"),
    ("X-Forwarded-Prefix", "/evil"),
    ("Forwarded", "host=evil.example;proto=https"),
    ("X-Original-URL", "/api/v1/auth/me"),
    ("X-Rewrite-URL", "/api/v1/auth/me"),
    ("X-HTTP-Method-Override", "DELETE"),
    ("X-Method-Override", "PURGE"),
]


def clean(site: Site, target: str = POSTS) -> RawReply:
    return raw_request(site.server.port, "GET", target)


@pytest.mark.parametrize(("name", "value"), UNKEYED, ids=[name for name, _ in UNKEYED])
def test_unkeyed_headers_change_nothing_and_plant_nothing(
    site: Site, name: str, value: str, reliability_case: Any
) -> None:
    clean(site)
    before = clean(site)
    port = site.server.port
    attack = raw_request(port, "GET", POSTS, [("Host", f"127.0.0.1:{port}"), (name, value)])
    after = [clean(site) for _ in range(4)]  # both workers, most likely
    reliability_case.record(
        case=f"unkeyed-{name}",
        fault=f"GET {POSTS} with {name}: {value}",
        behaviour=f"{attack.status} {attack.x_cache}, same body as a clean request; the next "
        f"clean requests were {sorted({r.x_cache for r in after})} with the same body",
        catalogue=(32,),
        status=attack.status,
        reflected=int(b"evil" in attack.body),
        poisoned=sum(reply.body != before.body for reply in after),
    )
    assert attack.status == 200
    assert attack.body == before.body  # nothing in the answer depends on the header
    assert all(reply.body == before.body and reply.x_cache == "HIT" for reply in after)


def test_an_absolute_form_target_naming_another_host_plants_nothing(
    site: Site, reliability_case: Any
) -> None:
    before = clean(site)
    attack = raw_request(site.server.port, "GET", f"http://evil.example{POSTS}")
    after = clean(site)
    reliability_case.record(
        case="absolute-form-target",
        fault=f"GET http://evil.example{POSTS} HTTP/1.1 with Host: 127.0.0.1",
        behaviour=f"{attack.status} {attack.x_cache}; the next clean request {after.x_cache}",
        catalogue=(32, 33),
        status=attack.status,
        poisoned=int(after.body != before.body),
    )
    assert b"evil" not in attack.body
    assert after.status == 200 and after.body == before.body


def test_a_get_with_a_body_bypasses_and_plants_nothing(site: Site, reliability_case: Any) -> None:
    port = site.server.port
    target = f"{POSTS}?page=2&limit=5"
    fat = raw_request(
        port,
        "GET",
        target,
        [("Host", f"127.0.0.1:{port}"), ("Content-Type", "application/json")],
        body=b'{"page": 3, "limit": 1}',
    )
    first_clean = clean(site, target)
    reliability_case.record(
        case="fat-get",
        fault=f"GET {target} with a JSON body {{page: 3, limit: 1}}",
        behaviour=f"{fat.status} {fat.headers.get('cache-status')}; the first clean request "
        f"was a {first_clean.x_cache}: the fat GET stored nothing",
        catalogue=(34,),
        status=fat.status,
        planted=int(first_clean.x_cache == "HIT"),
    )
    assert fat.status == 200 and fat.x_cache == "BYPASS"
    assert "request-body" in fat.headers.get("cache-status", "")
    assert first_clean.x_cache == "MISS"
    assert b'"page":2' in first_clean.body


@pytest.mark.parametrize(
    ("target", "expected_status", "page"),
    [
        (f"{POSTS}?limit=1&page=1;page=2", 422, None),
        (f"{POSTS}?limit=1&page=1%26page=2", 422, None),
        (f"{POSTS}?limit=1&page=2&page=1", 200, 2),
        (f"{POSTS}?page=2&limit=1&utm_source=x&page=3", 200, 2),
    ],
    ids=["semicolon", "encoded-ampersand", "duplicate", "duplicate-with-tracking"],
)
def test_parameter_cloaking_is_keyed_as_the_view_reads_it(
    site: Site, target: str, expected_status: int, page: int | None, reliability_case: Any
) -> None:
    attack = clean(site, target)
    page_one = [clean(site, f"{POSTS}?page=1&limit=1") for _ in range(2)]
    reliability_case.record(
        case=f"parameter-cloaking-{target.split('?', 1)[1]}",
        fault=f"GET {target}",
        behaviour=f"{attack.status}; the clean page 1 still showed page 1",
        catalogue=(35,),
        status=attack.status,
        poisoned=sum(b'"page":1' not in reply.body for reply in page_one),
    )
    assert attack.status == expected_status
    if page is not None:
        assert f'"page":{page}'.encode() in attack.body
    assert all(b'"page":1,' in reply.body for reply in page_one)


DECEPTION = [
    "/api/v1/auth/me.css",
    "/api/v1/auth/me/x.js",
    "/api/v1/auth/me%2ecss",
    "/api/v1/auth/me;.css",
    "/api/v1/auth/me%00.css",
    "/api/v1/posts/1.css",
    "/api/v1/users/me/posts.css",
    "/api/v1/users/me/posts/..%2f..%2fauth%2fme",
]


def login(site: Site, user: int) -> str:
    reply = site.http.request(
        "POST", LOGIN, body={"email": f"user{user}@example.com", "password": DEMO_PASSWORD}
    )
    cookie = session_cookie(reply)
    assert reply.status == 200 and cookie
    return cookie


@pytest.mark.parametrize("path", DECEPTION)
def test_cache_deception_paths_never_store_a_victims_answer(
    site: Site, path: str, reliability_case: Any
) -> None:
    port = site.server.port
    victim = login(site, 4)
    with_cookie = [("Host", f"127.0.0.1:{port}"), ("Cookie", f"session={victim}")]
    lured = [raw_request(port, "GET", path, with_cookie) for _ in range(2)]
    attacker = [raw_request(port, "GET", path) for _ in range(3)]
    leaked = sum(b"user4@example.com" in reply.body for reply in attacker)
    reliability_case.record(
        case=f"deception-{path}",
        fault=f"a logged-in victim follows {path}; then an anonymous attacker requests it",
        behaviour=f"victim got {sorted({r.status for r in lured})}, attacker got "
        f"{sorted({r.status for r in attacker})}; nothing of the victim's was stored",
        catalogue=(36,),
        victim_statuses=sorted({r.status for r in lured}),
        attacker_statuses=sorted({r.status for r in attacker}),
        leaked=leaked,
    )
    assert leaked == 0
    assert all(reply.x_cache != "HIT" for reply in [*lured, *attacker])
    assert all(reply.status in (400, 404) for reply in [*lured, *attacker])


def test_per_user_entries_never_cross_users(site: Site, reliability_case: Any) -> None:
    port = site.server.port
    answers: dict[int, list[RawReply]] = {}
    cookies = {user: login(site, user) for user in (2, 3)}
    for _ in range(3):
        for user, cookie in cookies.items():
            headers = [("Host", f"127.0.0.1:{port}"), ("Cookie", f"session={cookie}")]
            answers.setdefault(user, []).append(
                raw_request(port, "GET", "/api/v1/users/me/posts?limit=100", headers)
            )
    anonymous = clean(site, "/api/v1/users/me/posts?limit=100")
    logout_headers = [("Host", f"127.0.0.1:{port}"), ("Cookie", f"session={cookies[2]}")]
    raw_request(port, "POST", "/api/v1/auth/logout", logout_headers)
    replayed = raw_request(port, "GET", "/api/v1/users/me/posts?limit=100", logout_headers)
    foreign = 0
    for user, replies in answers.items():
        for reply in replies:
            authors = {item["author"]["id"] for item in _json(reply)["data"]}
            foreign += len(authors - {user})
    reliability_case.record(
        case="per-user-entries",
        fault="users 2 and 3 each read /users/me/posts three times (per-user entries, "
        "hits); an anonymous client and user 2's logged-out cookie try the same",
        behaviour=f"each user saw only their own posts ({sum(len(v) for v in answers.values())} "
        f"answers, hits included); anonymous {anonymous.status}; replayed cookie "
        f"{replayed.status}",
        catalogue=(39,),
        foreign_posts_seen=foreign,
        hits=sum(r.x_cache == "HIT" for v in answers.values() for r in v),
        anonymous=anonymous.status,
        after_logout=replayed.status,
    )
    assert foreign == 0
    assert any(r.x_cache == "HIT" for v in answers.values() for r in v)
    assert anonymous.status == 401 and replayed.status == 401


def _json(reply: RawReply) -> Any:
    return json.loads(reply.body)
