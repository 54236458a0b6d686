"""Brute force, spoofed client addresses and session fixation, against a real gunicorn.

Clients come from distinct loopback addresses (any ``127.x.y.z`` can be bound on
Linux), so the per-address limits see real socket peers, as in production.

- Per account: failed logins for one account from 12 addresses meet one budget
  (``RATELIMIT_LOGIN_FAILURES=5 per minute``); then even the right password gets
  429, while another account is unaffected. Row 49.
- Per address: one address trying many accounts meets ``RATELIMIT_AUTH`` (12 per
  minute) and gets 429; another address is unaffected. Row 49.
- Unknown user and wrong password look alike: same status, same body, and about
  the same time (one argon2 verification either way). Row 49.
- ``X-Forwarded-For`` from a direct client changes nothing (``TRUSTED_PROXIES=0``):
  one bucket whatever it says. Behind one trusted proxy, only the last hop counts:
  forged entries to its left change nothing. Row 50.
- Session fixation: a cookie planted before login (made up, or the attacker's own
  real session) is never the one after; the planted one ends. Rows 44-45.
(The in-process versions are in ``tests/test_rate_limits.py``,
``tests/test_client_address.py`` and ``tests/test_sessions.py``.)
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.conftest import Site, start_site
from tests.faults.harness import DEMO_PASSWORD, LOGIN, POSTS, Http, session_cookie

ME = "/api/v1/auth/me"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, attack_seed: Path) -> Iterator[Site]:
    started = start_site(
        tmp_path_factory.mktemp("strict"),
        attack_seed,
        RATELIMIT_API="1000 per minute",
        RATELIMIT_AUTH="12 per minute",
        RATELIMIT_LOGIN_FAILURES="5 per minute",
    )
    yield started
    started.stop()


def attempt(site: Site, source: str, email: str, password: str) -> Any:
    return Http(site.server.port, source=source).request(
        "POST", LOGIN, body={"email": email, "password": password}
    )


def test_failed_logins_are_limited_per_account_across_addresses(
    strict: Site, reliability_case: Any
) -> None:
    wrong = [attempt(strict, f"127.0.1.{i}", "user2@example.com", "guess") for i in range(12)]
    right = attempt(strict, "127.0.1.200", "user2@example.com", DEMO_PASSWORD)
    other = attempt(strict, "127.0.1.201", "user3@example.com", DEMO_PASSWORD)
    statuses = [reply.status for reply in wrong]
    reliability_case.record(
        case="brute-force-per-account",
        fault="12 wrong passwords for user2 from 12 addresses, then the right one from a 13th",
        behaviour=f"{statuses.count(401)} x 401, then 429 with Retry-After, even for the right "
        f"password ({right.status}); user3 from elsewhere logged in ({other.status})",
        catalogue=(49,),
        statuses=statuses,
        right_password=right.status,
        other_account=other.status,
    )
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert all("retry-after" in reply.headers for reply in wrong[5:])
    assert right.status == 429
    assert other.status == 200


def test_one_address_trying_many_accounts_is_limited(strict: Site, reliability_case: Any) -> None:
    replies = [attempt(strict, "127.0.2.1", f"nobody{i}@example.com", "guess") for i in range(14)]
    elsewhere = attempt(strict, "127.0.2.2", "nobody-else@example.com", "guess")
    statuses = [reply.status for reply in replies]
    reliability_case.record(
        case="brute-force-per-address",
        fault="one address tries 14 different accounts (RATELIMIT_AUTH=12 per minute)",
        behaviour=f"{statuses.count(401)} x 401, then 429; another address still got "
        f"{elsewhere.status}",
        catalogue=(49,),
        statuses=statuses,
        other_address=elsewhere.status,
    )
    assert statuses[:12] == [401] * 12
    assert statuses[12:] == [429, 429]
    assert elsewhere.status == 401


def test_unknown_user_and_wrong_password_look_the_same(strict: Site) -> None:
    # Known accounts other than user2 (whose failures the first test used up).
    known = [1, 3, 4, 5]
    unknown = [attempt(strict, f"127.0.3.{i}", f"ghost{i}@example.com", "guess") for i in known]
    wrong = [attempt(strict, f"127.0.4.{i}", f"user{i}@example.com", "guess") for i in known]
    assert {r.status for r in unknown} == {r.status for r in wrong} == {401}
    assert {r.body for r in unknown} == {r.body for r in wrong}
    gap = abs(statistics.median(r.ms for r in unknown) - statistics.median(r.ms for r in wrong))
    assert gap < 50  # one argon2 verification either way (about 35 ms at OWASP cost)


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory, attack_seed: Path) -> Iterator[Site]:
    started = start_site(
        tmp_path_factory.mktemp("direct"), attack_seed, RATELIMIT_API="8 per minute"
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, attack_seed: Path) -> Iterator[Site]:
    started = start_site(
        tmp_path_factory.mktemp("proxied"),
        attack_seed,
        RATELIMIT_API="8 per minute",
        TRUSTED_PROXIES="1",
    )
    yield started
    started.stop()


def test_spoofed_forwarded_for_from_a_direct_client_changes_nothing(
    direct: Site, reliability_case: Any
) -> None:
    http = Http(direct.server.port, source="127.0.6.1")
    replies = [http.get(POSTS, headers={"X-Forwarded-For": f"10.9.{i}.{i}"}) for i in range(10)]
    statuses = [reply.status for reply in replies]
    reliability_case.record(
        case="spoofed-x-forwarded-for-direct",
        fault="10 requests from one address, each with a different X-Forwarded-For "
        "(TRUSTED_PROXIES=0, RATELIMIT_API=8 per minute)",
        behaviour=f"one bucket: {statuses.count(200)} x 200 then 429",
        catalogue=(50,),
        statuses=statuses,
    )
    assert statuses == [200] * 8 + [429] * 2


def test_behind_one_proxy_forged_left_entries_change_nothing(
    proxied: Site, reliability_case: Any
) -> None:
    http = Http(proxied.server.port, source="127.0.6.2")
    client = "203.0.113.7"  # what the trusted proxy appended
    replies = [
        http.get(POSTS, headers={"X-Forwarded-For": f"10.9.{i}.{i}, {client}"}) for i in range(10)
    ]
    other = http.get(POSTS, headers={"X-Forwarded-For": "198.51.100.9"})
    statuses = [reply.status for reply in replies]
    reliability_case.record(
        case="spoofed-x-forwarded-for-behind-proxy",
        fault="TRUSTED_PROXIES=1; X-Forwarded-For '<forged>, 203.0.113.7' x 10",
        behaviour=f"bucket of 203.0.113.7 only: {statuses.count(200)} x 200 then 429; "
        f"another client behind the proxy got {other.status}",
        catalogue=(50,),
        statuses=statuses,
        other_client=other.status,
    )
    assert statuses == [200] * 8 + [429] * 2
    assert other.status == 200


def test_session_fixation_never_keeps_a_planted_cookie(site: Site, reliability_case: Any) -> None:
    http = site.http
    made_up = "attacker-chosen-session-id-0123456789abcdef"
    login = {"email": "user5@example.com", "password": DEMO_PASSWORD}
    after_made_up = http.request("POST", LOGIN, body=login, cookie=made_up)
    attacker = session_cookie(
        http.request("POST", LOGIN, body={"email": "user4@example.com", "password": DEMO_PASSWORD})
    )
    victim = http.request("POST", LOGIN, body=login, cookie=attacker)
    victims_cookie = session_cookie(victim)
    planted_after = http.get(ME, cookie=attacker)
    reliability_case.record(
        case="session-fixation",
        fault="log in carrying a made-up session cookie; log in carrying the attacker's own "
        "real session cookie",
        behaviour="each login issued a new id; the planted real session was destroyed "
        f"({planted_after.status} afterwards)",
        catalogue=(44, 45),
        new_id_for_made_up=int(session_cookie(after_made_up) not in (None, made_up)),
        new_id_for_planted=int(victims_cookie not in (None, attacker)),
        planted_after=planted_after.status,
    )
    assert session_cookie(after_made_up) not in (None, made_up)
    assert victims_cookie not in (None, attacker)
    assert planted_after.status == 401
    assert http.get(ME, cookie=victims_cookie).json()["email"] == "user5@example.com"
