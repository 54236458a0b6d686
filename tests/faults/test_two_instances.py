"""Scale-out: two app instances (two gunicorn workers each) on one Redis and one database.

The database is a SQLite file both instances open, and PostgreSQL too when
``TEST_DATABASE_URL`` is set (a throwaway database of our own). Both instances
share ``SECRET_KEY`` and keep sessions in Redis (the default), as behind a load
balancer:

- a write acknowledged by one instance is never followed by a stale read on the
  other, whatever the interleaving (readers run on B while A writes);
- a login on one instance is valid on the other, and a logout on the other
  ends it on the first;
- rate limits are counted jointly: requests split across both meet one budget;
- a cache toggle made through one instance's admin API reaches every worker of
  both within one second.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.faults.harness import (
    DEMO_PASSWORD,
    LOGIN,
    POSTS,
    Http,
    Reply,
    Workload,
    WriteLog,
    Writer,
    five_xx,
    pick_post,
    served_by,
    session_cookie,
    wait_for_log,
)
from tests.support.gunicorn_server import GunicornServer
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

ME = "/api/v1/auth/me"


@pytest.fixture
def pair(
    any_database: Any, redis_server: RedisServer, deploy: Any, request: pytest.FixtureRequest
) -> tuple[GunicornServer, GunicornServer, str]:
    env: dict[str, str] = getattr(request, "param", {})
    first = deploy(any_database.url, redis_server.url, **env)
    second = deploy(any_database.url, redis_server.url, **env)
    return first, second, any_database.kind


def test_a_write_on_one_instance_is_never_read_stale_on_the_other(
    pair: tuple[GunicornServer, GunicornServer, str], reliability_case: Any
) -> None:
    first, second, kind = pair
    a, b = Http(first.port), Http(second.port)
    post_id, author_id = pick_post(a)
    log = WriteLog()
    writer = Writer(a, post_id, author_id, log)
    assert writer.login().status == 200
    reader = Workload(b, post_id, log)
    reader.warm()
    replies: list[Reply] = []
    stop = threading.Event()

    def read_on_b() -> None:
        while not stop.is_set():
            replies.extend(reader.read_once())

    threads = [threading.Thread(target=read_on_b) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(20):
            assert writer.write("on-a").status == 200
            replies.extend(reader.read_once())  # right after the acknowledgement
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    hits = sum(reply.x_cache == "HIT" for reply in replies)
    reliability_case.record(
        case=f"two-instances-write-then-read-{kind}",
        fault="20 writes through instance A while two readers and a read-after-each-write "
        "run on instance B",
        behaviour=f"{len(replies)} reads on B ({hits} cache hits), none older than the last "
        "write A had acknowledged when the read was sent",
        catalogue=(56,),
        group="scale-out",
        requests=len(replies),
        writes=20,
        hits=hits,
        stale_reads=len(reader.stale),
        redis_5xx=five_xx([*replies, *writer.replies]),
    )
    assert reader.stale == []
    assert hits > 0  # the reads really went through the shared cache
    assert five_xx([*replies, *writer.replies]) == 0


def test_a_login_on_one_instance_is_valid_on_the_other(
    pair: tuple[GunicornServer, GunicornServer, str], reliability_case: Any
) -> None:
    first, second, kind = pair
    a, b = Http(first.port), Http(second.port)
    login = a.request("POST", LOGIN, body={"email": "user2@example.com", "password": DEMO_PASSWORD})
    cookie = session_cookie(login)
    assert login.status == 200 and cookie
    on_b = [b.get(ME, cookie=cookie) for _ in range(4)]  # both of B's workers, likely
    logout = b.request("POST", "/api/v1/auth/logout", cookie=cookie)
    on_a_after = a.get(ME, cookie=cookie)
    reliability_case.record(
        case=f"two-instances-session-{kind}",
        fault="log in through A, use the cookie on B, log out through B, replay on A",
        behaviour="B knew the user; after B's logout A refused the cookie (401)",
        catalogue=(56,),
        group="scale-out",
        me_on_b=sorted({reply.status for reply in on_b}),
        logout_on_b=logout.status,
        me_on_a_after_logout=on_a_after.status,
    )
    assert all(reply.status == 200 for reply in on_b)
    assert {reply.json()["email"] for reply in on_b} == {"user2@example.com"}
    assert logout.status == 204
    assert on_a_after.status == 401


@pytest.mark.parametrize("pair", [{"RATELIMIT_API": "30 per minute"}], indirect=True)
def test_rate_limits_are_counted_jointly(
    pair: tuple[GunicornServer, GunicornServer, str], reliability_case: Any
) -> None:
    first, second, kind = pair
    a, b = Http(first.port), Http(second.port)
    # The servers' readiness checks hit /health, which is exempt: the budget is whole.
    answers = [(a if i % 2 == 0 else b).get(POSTS) for i in range(34)]
    statuses = [reply.status for reply in answers]
    refused = next(i for i, status in enumerate(statuses) if status == 429)
    reliability_case.record(
        case=f"two-instances-rate-limit-{kind}",
        fault="RATELIMIT_API=30 per minute; 34 requests alternating between A and B",
        behaviour=f"requests 1-{refused} answered 200, request {refused + 1} (on "
        f"{'A' if refused % 2 == 0 else 'B'}) got 429: one budget for both instances",
        catalogue=(56,),
        group="scale-out",
        first_429_at=refused + 1,
        limit=30,
    )
    assert statuses[:30] == [200] * 30
    assert set(statuses[30:]) == {429}
    assert answers[30].headers["retry-after"]


def test_a_cache_toggle_reaches_both_instances_within_one_second(
    pair: tuple[GunicornServer, GunicornServer, str], reliability_case: Any
) -> None:
    first, second, kind = pair
    a, b = Http(first.port), Http(second.port)
    for http in (a, b):
        for _ in range(4):
            http.get(POSTS)
    assert a.get(POSTS).x_cache == "HIT" and b.get(POSTS).x_cache == "HIT"
    login = a.request("POST", LOGIN, body={"email": "user1@example.com", "password": DEMO_PASSWORD})
    admin = session_cookie(login)
    toggle = a.request(
        "PATCH",
        "/api/v1/admin/cache/routes/posts.list_posts",
        body={"enabled": False},
        cookie=admin,
    )
    if toggle.status == 404 and b"not a cacheable route" not in toggle.body:
        pytest.xfail("the admin cache endpoints are not in this tree yet")
    assert toggle.status == 200, toggle.body
    flipped = time.perf_counter()
    polled: list[tuple[str, Reply]] = []
    while time.perf_counter() - flipped < 1.6:
        for name, http in (("A", a), ("B", b)):
            polled.append((name, http.get(POSTS)))
    late = [(name, reply) for name, reply in polled if reply.started - flipped >= 1.0]
    cached_after = [
        reply.started - flipped for _, reply in polled if reply.x_cache in ("HIT", "STALE")
    ]
    last_cached = max(cached_after, default=0.0)
    for server in (first, second):
        wait_for_log(server, (reply.probe for _, reply in late if reply.probe))
    workers = {
        served_by(server).get(reply.probe) for server in (first, second) for _, reply in late
    } - {None}
    reliability_case.record(
        case=f"two-instances-cache-toggle-{kind}",
        fault="PATCH /api/v1/admin/cache/routes/posts.list_posts {enabled: false} on A",
        behaviour=f"the last cached answer on either instance came {last_cached:.2f} s after "
        f"the toggle; every answer after 1 s bypassed ({len(workers)} workers seen)",
        catalogue=(43,),
        group="scale-out",
        last_cached_after_s=round(last_cached, 3),
        polled=len(polled),
        late_answers=len(late),
        workers_seen_after_1s=len(workers),
    )
    assert late and all(reply.x_cache == "BYPASS" for _, reply in late), [
        (name, round(reply.started - flipped, 3), reply.x_cache) for name, reply in late
    ]
    assert len(workers) == 4, workers  # two workers of each instance answered after 1 s
    a.request(
        "PATCH", "/api/v1/admin/cache/routes/posts.list_posts", body={"enabled": True},
        cookie=admin,
    )  # fmt: skip
