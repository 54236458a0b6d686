"""Run in a subprocess by ``sessions``: what a signed-in read costs the session store.

``python -m bench.workloads.session_probe --db PATH --reads 200`` prints one JSON document.
It starts its own redis-server on a free loopback port (it kills it halfway), builds the app
in process on a copy of the bench's SQLite file, signs in as a seeded user and sends
``--reads`` signed-in ``GET /api/v1/auth/me`` (the route that reads the session), for:

- ``cached`` (the default with Redis), Redis up: SQL statements touching ``sessions`` per
  read (the issue's bar: 0) and the median in-process latency;
- the same session, Redis killed (one short timeout first, not counted): statements per read
  (a primary-key lookup each) and the median latency;
- ``sql`` (``SESSION_BACKEND=sql``) for reference.

Statements are counted at the database driver (SQLAlchemy's ``before_cursor_execute``).
The app is imported here, not in the bench process, so a broken app cannot stop the bench.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.redis_server import RedisServer

ME = "/api/v1/auth/me"
USER = {"email": "user1@example.com", "password": "demo-password"}  # cli.DEMO_PASSWORD


def build_app(db_path: str, redis_url: str | None, backend: str) -> Any:
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "REDIS_URL": redis_url,
            "SESSION_BACKEND": backend,
            "RATELIMIT_ENABLED": False,
        }
    )


class Statements:
    """Counts the SQL statements that name the ``sessions`` table."""

    def __init__(self, app: Any) -> None:
        from sqlalchemy import event

        from extensions import db

        self.count = 0
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if "sessions" in statement:
            self.count += 1


def measure(app: Any, client: Any, statements: Statements, reads: int) -> dict[str, Any]:
    client.get(ME)  # unmeasured: a first read may fill the cache or pay a timeout
    statements.count = 0
    times: list[float] = []
    for _ in range(reads):
        started = time.perf_counter()
        response = client.get(ME)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            return {"error": f"/auth/me answered {response.status_code}"}
    return {
        "session_queries_per_read": round(statements.count / reads, 3),
        "median_ms": round(statistics.median(times), 3),
        "reads": reads,
    }


def signed_in(app: Any) -> Any:
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json=USER)
    if response.status_code != 200:
        raise RuntimeError(f"login answered {response.status_code}")
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as workdir:
        server = RedisServer(Path(workdir) / "redis").start()
        try:
            app = build_app(args.db, server.url, "cached")
            statements = Statements(app)
            client = signed_in(app)
            out["cached_redis_up"] = measure(app, client, statements, args.reads)
            server.kill()
            out["cached_redis_down"] = measure(app, client, statements, args.reads)
        finally:
            server.stop()
    sql_app = build_app(args.db, None, "sql")
    out["sql"] = measure(sql_app, signed_in(sql_app), Statements(sql_app), args.reads)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
