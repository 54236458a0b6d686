"""Hits under the gunicorn worker models a production user would pick, against Node.

Every app target is ``make run`` with one setting changed (``specs.APP_VARIANTS``): ``app``
(gunicorn's ``sync`` worker, the default: it answers ``Connection: close``, so every request
pays a TCP accept and close), ``app-gthread`` (``GUNICORN_WORKER_CLASS=gthread``,
``GUNICORN_THREADS=4``: keep-alive) and ``app-gevent`` (``GUNICORN_WORKER_CLASS=gevent``:
keep-alive, one event loop per worker). All run 2 workers with the limiter on. Peers: the
Express recipe with its limiter as one Node process (``express-limiter``, like for like on the
2 cores: 2 gunicorn workers vs 1 Node process) and as 2 (``express-limiter-2``,
``EXPRESS_PROCESSES=2``, node:cluster). wrk keeps connections alive wherever the server
allows it. Same hit URL mix, same interleaved rounds as ``hit``; each target's ``Connection``
header on a keep-alive request is recorded (``keep_alive``).
"""

from __future__ import annotations

import http.client
from typing import Any

from bench.runner import Bench, interleaved, records, summarise
from bench.workloads import hit

TARGETS = ("app", "app-gthread", "app-gevent", "express-limiter", "express-limiter-2")
APP_MODELS = ("app", "app-gthread", "app-gevent")


def keeps_alive(port: int, path: str) -> bool:
    """Whether the server leaves an HTTP/1.1 connection open after answering ``path``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        answer.read()
        return not answer.will_close
    finally:
        conn.close()


def fastest(summary: dict[str, Any]) -> str | None:
    """The app target with the highest median hits/s (None when none ran)."""
    ran = [(summary[t]["rps"]["median"], t) for t in APP_MODELS if summary.get(t, {}).get("rps")]
    return max(ran)[1] if ran else None


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(TARGETS)
    plan = bench.plan
    print(f"  worker models: {len(targets)} targets x {plan.rounds} rounds")
    keep_alive = {t: keeps_alive(bench.peers[t].port, bench.hit_urls[0]) for t in targets}
    table = interleaved(
        targets, plan.rounds, hit._runner(bench, plan.duration, 16), hit._warmup(bench, 1.0)
    )
    summary = summarise(table, targets)
    return {
        "connections": 16,
        "keep_alive": keep_alive,
        "fastest": fastest(summary),
        "summary": summary,
        "runs": records(table),
    }
