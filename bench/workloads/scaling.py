"""Hits/s and p99 as concurrency grows: 1, 16, 64 and 256 connections.

Targets: ``app`` (``make run``: sync workers), ``app-gthread`` and ``app-gevent`` (keep-alive
worker models), Flask-Caching, the constant-body Flask route and the Express recipe, all with
their limiter. For each concurrency level, interleaved rounds over the hit URL mix (wrk ``-t1``,
one thread, so the load generator leaves the cores to the servers); after one warm-up.
``levels[c]`` is ``runner.summarise`` for that level; a socket error or non-2xx at any level is
counted in it (the report checks 256 for none).
"""

from __future__ import annotations

from typing import Any

from bench.runner import Bench, interleaved, records, summarise
from bench.workloads import hit

TARGETS = (
    "app", "app-gthread", "app-gevent", "flask-caching", "flask-constant", "express-limiter",
)  # fmt: skip
LEVELS = (1, 16, 64, 256)


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(TARGETS)
    plan = bench.plan
    rounds = plan.scaling_rounds
    print(f"  scaling: {len(targets)} targets x {len(LEVELS)} levels x {rounds} rounds")
    levels: dict[str, Any] = {}
    runs: list[dict[str, Any]] = []
    for number, connections in enumerate(LEVELS):
        warm = hit._warmup(bench, 1.0) if number == 0 else None
        table = interleaved(
            targets,
            plan.scaling_rounds,
            hit._runner(bench, plan.scaling_duration, connections),
            warm,
        )
        levels[str(connections)] = summarise(table, targets)
        runs += [{**run, "connections": connections} for run in records(table)]
    return {"levels": levels, "runs": runs}
