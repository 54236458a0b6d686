"""The default set-up (sessions durable in SQL, read through Redis) under two gunicorn
workers while Redis is hung or dead, and after it returns.

During the outage a signed-in user stays signed in (``/auth/me`` 200), a new login and a
write succeed, a logout ends the session, and public reads stay correct: zero 5xx, zero
stale reads. After Redis returns, each worker's prober (one PING per 0.25 s while its
circuit is open) finds it on its own: both workers serve cache hits again within 1 s
(``RECOVERY_BUDGET_S``; which worker answered comes from the access log). The logged-out
cookie stays 401 afterwards, even though Redis still holds (hung) or restored (killed, from
a snapshot taken before the logout) its cached copy.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.faults.harness import (
    DEMO_PASSWORD,
    LOGIN,
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
LOGOUT = "/api/v1/auth/logout"
RECOVERY_BUDGET_S = 1.0  # the bound: every worker uses Redis again within 1 s
WATCH_S = 5.0  # how long recovery is watched before giving up


def first_hit_per_worker(
    server: GunicornServer, workload: Workload, healed_at: float
) -> dict[int, float]:
    """pid -> seconds from ``healed_at`` to that worker's first cache hit."""
    replies: list[Reply] = []
    hits: dict[int, float] = {}
    while time.perf_counter() - healed_at < WATCH_S and len(hits) < 2:
        batch = workload.read_once()
        replies += batch
        wait_for_log(server, [reply.probe for reply in batch])
        pids = served_by(server)
        for reply in batch:
            if reply.x_cache == "HIT" and reply.probe in pids:
                hits.setdefault(pids[reply.probe], reply.started - healed_at)
        time.sleep(0.02)  # pacing the polling of a recovering service, not a clock
    return hits


@pytest.mark.parametrize("fault", ["hung", "killed"])
def test_signed_in_users_ride_out_a_redis_outage_and_both_workers_recover_within_1s(
    redis_server: RedisServer,
    sqlite_database: Any,
    deploy: Any,
    reliability_case: Any,
    fault: str,
) -> None:
    server = deploy(sqlite_database.url, redis_server.url)  # SESSION_BACKEND: cached
    http = Http(server.port)
    post_id, author_id = pick_post(http)
    log = WriteLog()
    writer = Writer(http, post_id, author_id, log)
    assert writer.login().status == 200
    # Another user, logged out during the outage (a logout ends all of a user's sessions).
    other = {"email": f"user{author_id % 5 + 1}@example.com", "password": DEMO_PASSWORD}
    leaving_cookie = session_cookie(http.request("POST", LOGIN, body=other))
    workload = Workload(http, post_id, log)
    assert writer.write("before").status == 200
    workload.warm()
    assert http.get(ME, cookie=leaving_cookie).status == 200  # cached in Redis now
    redis_server.save_snapshot()  # what a killed Redis comes back with

    if fault == "hung":
        redis_server.pause()
    else:
        redis_server.kill()
    try:
        during: list[Reply] = []
        for _ in range(6):
            during += workload.read_once()
            during.append(http.get(ME, cookie=writer.cookie))
        wrote = writer.write("during")
        login = {"email": f"user{author_id}@example.com", "password": DEMO_PASSWORD}
        fresh = http.request("POST", LOGIN, body=login)
        fresh_cookie = session_cookie(fresh)
        logged_out = http.request("POST", LOGOUT, cookie=leaving_cookie)
        during += [wrote, fresh, logged_out]
        for _ in range(4):
            during += workload.read_once()
    finally:
        if fault == "hung":
            redis_server.resume()
        else:
            redis_server.restart(from_snapshot=True)
    healed_at = time.perf_counter()
    hits = first_hit_per_worker(server, workload, healed_at)

    after = [
        http.get(ME, cookie=writer.cookie),
        http.get(ME, cookie=fresh_cookie),
        http.get(ME, cookie=leaving_cookie),
        writer.write("after"),
        *workload.read_once(),
    ]
    everything = [*during, *after]
    me_during = [reply for reply in during if reply.path == ME]
    figures: dict[str, Any] = {
        "requests": len(everything),
        "redis_5xx": five_xx(everything),
        "me_during": sorted({reply.status for reply in me_during}),
        "me_during_max_ms": round(max(reply.ms for reply in me_during), 1),
        "write_during": f"{wrote.status} in {wrote.ms:.0f} ms",
        "login_during": f"{fresh.status} in {fresh.ms:.0f} ms",
        "logout_during": logged_out.status,
        "first_hit_per_worker_s": sorted(round(seconds, 3) for seconds in hits.values()),
        "recovery_s": round(max(hits.values()), 2) if hits else None,
        "me_after": [reply.status for reply in after[:3]],
        "write_after": after[3].status,
        "stale_reads": len(workload.stale),
    }
    reliability_case.record(
        case=f"cached-sessions-redis-{fault}",
        fault=f"default sessions (SQL read through Redis); Redis {fault} "
        f"({'SIGSTOP, SIGCONT' if fault == 'hung' else 'SIGKILL, restart from a snapshot'}) "
        "with users signed in",
        behaviour=(
            "signed-in users stayed signed in, a login, a write and a logout succeeded "
            "during the outage; both workers served cache hits again "
            f"{figures['first_hit_per_worker_s']} s after Redis returned; the logged-out "
            "cookie stayed 401"
        ),
        catalogue=(4, 5, 6, 15),
        **figures,
    )
    assert figures["redis_5xx"] == 0, [reply for reply in everything if reply.status >= 500][:3]
    assert figures["me_during"] == [200], me_during
    assert wrote.status == 200 and fresh.status == 200 and fresh_cookie
    assert logged_out.status == 204
    assert len(hits) == 2, figures
    assert max(hits.values()) <= RECOVERY_BUDGET_S, figures
    assert figures["me_after"] == [200, 200, 401], figures
    assert figures["write_after"] == 200
    assert figures["stale_reads"] == 0, workload.stale
