"""The default set-up, sessions in Redis, while Redis is hung, and after it restarts empty.

What "zero 5xx caused by Redis" means here: a request whose answer does not
depend on Redis (a public read, with or without a session cookie) never gets a
5xx. By design (D11), a request that needs the logged-in user while the session
store cannot be read answers **503 with ``Retry-After`` and the JSON error
shape**: ``/auth/me``, a write, a login. Those 503s are counted apart
(``by_design_503``), and nobody is ever treated as logged in meanwhile. After
Redis comes back the same cookie works again; after Redis restarts empty the
cookie is simply unknown (401, not 500; a worker's first request after the restart
may still get the by-design 503, its pooled connection having died).
"""

from __future__ import annotations

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
)
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

ME = "/api/v1/auth/me"
RECOVERY_BUDGET_S = 7.0


def by_design(reply: Reply) -> bool:
    """A 503 for a request that needed the session, with Retry-After and the error shape."""
    needs_session = reply.path in (ME, LOGIN) or reply.method != "GET"
    return (
        reply.status == 503
        and needs_session
        and "retry-after" in reply.headers
        and reply.json().get("status") == "error"
    )


def test_redis_sessions_while_redis_hangs_and_after_it_restarts_empty(
    redis_server: RedisServer, sqlite_database: Any, deploy: Any, reliability_case: Any
) -> None:
    server = deploy(sqlite_database.url, redis_server.url)  # SESSION_BACKEND: redis
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    cookie = writer.cookie
    workload = Workload(http, post_id, log)
    assert writer.write("before").status == 200
    workload.warm()

    redis_server.pause()
    try:
        during: list[Reply] = []
        public_with_cookie: list[Reply] = []
        for _ in range(10):
            during += workload.read_once()  # anonymous
            public_with_cookie.append(http.get(POSTS, cookie=cookie))
            during += [public_with_cookie[-1], http.get(ME, cookie=cookie)]
        during.append(writer.write("during"))
        login = {"email": f"user{author_id}@example.com", "password": DEMO_PASSWORD}
        during.append(http.request("POST", LOGIN, body=login))
    finally:
        redis_server.resume()
    resumed = time.perf_counter()
    # Each worker's breaker closes on its own schedule: wait for a run of successes.
    streak: list[Reply] = []
    while time.perf_counter() - resumed < RECOVERY_BUDGET_S + 3 and len(streak) < 8:
        reply = http.get(ME, cookie=cookie)
        streak = [*streak, reply] if reply.status == 200 else []
        if not streak:
            time.sleep(0.1)  # polling the breakers' recovery, not a clock
    me_again = streak[0] if len(streak) >= 8 else None
    session_back_s = (streak[0].started if me_again else time.perf_counter()) - resumed
    after_write = writer.write("after")
    after_reads = workload.read_once()

    redis_server.restart(from_snapshot=False)
    # A worker's first call after the restart may meet its pooled connection dead
    # (no retries): that request's session is unreadable, so 503; then 401.
    restarted = [http.get(ME, cookie=cookie) for _ in range(6)]
    public_after_restart = http.get(POSTS, cookie=cookie)

    everything = [*during, after_write, *after_reads, *restarted, public_after_restart]
    figures: dict[str, Any] = {
        "requests": len(everything),
        "5xx": five_xx(everything),
        "redis_5xx": five_xx(everything, by_design),
        "by_design_503": sum(by_design(reply) for reply in everything),
        "public_with_cookie": sorted({f"{r.status} {r.headers.get('cache-control')}"
                                      for r in public_with_cookie}),
        "me_during": sorted({r.status for r in during if r.path == ME}),
        "write_during": during[-2].status,
        "login_during": during[-1].status,
        "logged_in_during": sum(r.path == ME and r.status == 200 for r in during),
        "session_back_s": round(session_back_s, 2),
        "me_after_empty_restart": sorted({r.status for r in restarted}),
        "stale_reads": len(workload.stale),
    }  # fmt: skip
    reliability_case.record(
        case="redis-sessions-hung-then-restarted-empty",
        fault="default Redis sessions; SIGSTOP with a logged-in cookie, SIGCONT; then a "
        "restart without data",
        behaviour=(
            "public reads 200 as anonymous (no-store), /auth/me, the write and a new login "
            f"503 + Retry-After (by design), nobody logged in; the cookie worked again "
            f"{figures['session_back_s']} s after SIGCONT; after the empty restart it was "
            "unknown (401)"
        ),
        catalogue=(4, 5, 6, 15),
        **figures,
    )
    assert figures["redis_5xx"] == 0, [r for r in everything if r.status >= 500][:3]
    assert figures["logged_in_during"] == 0
    assert all(r.status == 200 for r in public_with_cookie), public_with_cookie
    assert all("no-store" in r.headers.get("cache-control", "") for r in public_with_cookie)
    assert figures["me_during"] == [503]
    assert figures["write_during"] == 503 and figures["login_during"] == 503
    assert me_again is not None and me_again.status == 200
    assert session_back_s <= RECOVERY_BUDGET_S, figures
    assert after_write.status == 200
    assert figures["stale_reads"] == 0, workload.stale
    assert set(figures["me_after_empty_restart"]) <= {401, 503}, figures
    assert restarted[-1].status == 401
    assert public_after_restart.status == 200
