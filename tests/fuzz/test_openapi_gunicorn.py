"""schemathesis against a real gunicorn (two workers) over HTTP, Redis up and Redis hung.

The document is loaded from the running server (``schemathesis.openapi.from_url``)
and every operation is fuzzed anonymously, as a stranger on the internet would
(15 positive and 15 negative examples each, no deadline): every write and the
admin API must refuse cleanly, every read must answer, and every response must
conform to the document. With Redis SIGSTOPped only a login needs it (to store
the session it would start): those answer the by-design 503 with
``Retry-After`` (D11); no other 5xx is allowed.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from tests.fuzz.runner import CHECKS, CHECKS_SESSIONS_DOWN, fuzz
from tests.support.gunicorn_server import GunicornServer, seed_sqlite
from tests.support.redis_server import RedisServer

EXAMPLES = 15
ENV = {"RATELIMIT_API": "1000000 per minute", "RATELIMIT_AUTH": "1000000 per minute"}


@pytest.mark.slow
@pytest.mark.parametrize("redis_state", ["up", "hung"])
def test_gunicorn_api_never_answers_5xx_and_matches_its_document(
    redis_state: str, redis_server: RedisServer, tmp_path: Any, reliability_case: Any
) -> None:
    database = seed_sqlite(tmp_path / "app.db", users=3, posts=20, tags=3)
    env = {**ENV, "DATABASE_URL": database, "REDIS_URL": redis_server.url}
    server = GunicornServer(env, tmp_path / "gunicorn", workers=2).start()
    try:
        schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
        if redis_state == "hung":
            redis_server.pause()
        try:
            checks = CHECKS if redis_state == "up" else CHECKS_SESSIONS_DOWN
            result = fuzz(schema, EXAMPLES, checks=checks, base_url=server.base_url, timeout=10)
        finally:
            if redis_server.paused:
                redis_server.resume()
    finally:
        server.stop()
    reliability_case.record(
        case=f"fuzz-gunicorn-redis-{redis_state}",
        fault=f"schemathesis over HTTP against gunicorn, {result.operations} operations x "
        f"{EXAMPLES} positive + {EXAMPLES} negative examples, anonymous, Redis "
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
