"""schemathesis against the app in-process (WSGI), with Redis up and with Redis hung.

Every operation of ``/openapi.json`` is fuzzed (15 positive and 15 negative
examples each, no deadline) as the seeded administrator, so writes and the
admin API are reached too (``logout`` and ``logout-all`` are left out: they
would end that session for the rest of the run). The checks: no 5xx
(``not_a_server_error``), and every response conforms to the document (status
code, content type, headers, body schema). The hung run SIGSTOPs Redis for its
whole length: sessions live in Redis, so what needs the login answers 503 by
design (documented on those operations); nothing may answer 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask

from cli import DEMO_PASSWORD, seed_database
from tests.fuzz.runner import CHECKS, CHECKS_SESSIONS_DOWN, fuzz
from tests.support.redis_server import RedisServer

EXAMPLES = 15


def admin_cookie(app: Flask) -> str:
    client = app.test_client()
    answer = client.post(
        "/api/v1/auth/login", json={"email": "user1@example.com", "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


@pytest.fixture
def seeded_app(make_app: Any, redis_server: RedisServer) -> Iterator[Flask]:
    app = make_app(redis=redis_server, PROPAGATE_EXCEPTIONS=False)
    with app.app_context():
        seed_database(n_users=3, n_posts=20, n_tags=3)
    yield app


@pytest.mark.slow
@pytest.mark.parametrize("redis_state", ["up", "hung"])
def test_wsgi_api_never_answers_5xx_and_matches_its_document(
    redis_state: str,
    seeded_app: Flask,
    redis_server: RedisServer,
    db_backend: str,
    reliability_case: Any,
) -> None:
    cookie = admin_cookie(seeded_app)
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", seeded_app)
    schema: Any = loaded.exclude(path_regex=r"/auth/logout")
    if redis_state == "hung":
        redis_server.pause()
    try:
        result = fuzz(
            schema,
            EXAMPLES,
            cookies={"session": cookie},
            # The WSGI transport does not decode gzip; the app decompresses for identity.
            headers={"Accept-Encoding": "identity"},
            checks=CHECKS if redis_state == "up" else CHECKS_SESSIONS_DOWN,
        )
    finally:
        if redis_server.paused:
            redis_server.resume()
    reliability_case.record(
        case=f"fuzz-wsgi-redis-{redis_state}-{db_backend}",
        fault=f"schemathesis (WSGI), {result.operations} operations x {EXAMPLES} positive + "
        f"{EXAMPLES} negative examples, as the administrator, Redis "
        + ("up" if redis_state == "up" else "SIGSTOPped throughout"),
        behaviour=f"{result.requests} requests; statuses {dict(sorted(result.statuses.items()))}"
        f"; {len(result.failures)} check failures",
        catalogue=(59,),
        requests=result.requests,
        operations=result.operations,
        server_errors=result.server_errors,
        redis_5xx=result.server_errors,
        by_design_503=result.session_503,
        failures=len(result.failures),
        statuses={str(code): n for code, n in sorted(result.statuses.items())},
    )
    assert result.server_errors == 0, result.failures
    assert result.failures == [], "\n".join(result.failures[:20])
