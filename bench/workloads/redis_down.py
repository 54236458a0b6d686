"""Redis down: kill the bench's Redis, let the breakers open, then app vs cache-off app.

Method: SIGKILL the bench's redis-server (connections are refused from then on), send 20
requests to each target so every worker's circuit breaker opens, then interleaved rounds of
the hit URL mix on the app and on the cache-off app (both lose the limiter's and sessions'
Redis the same way). Every response must still be 2xx with no socket errors. This workload
is last: nothing after it has a Redis.
"""

from __future__ import annotations

from typing import Any

from bench import probe
from bench.load import LoadSpec, run_load
from bench.runner import Bench, RunRecord, interleaved, records, summarise

TARGETS = ("app", "app-nocache")


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(TARGETS)
    bench.redis.kill()
    opening: dict[str, list[int]] = {}
    for target in targets:
        statuses = []
        for path in bench.hit_urls[:20]:
            try:
                statuses.append(probe.fetch(bench.peers[target].port, path).status)
            except OSError:
                statuses.append(0)
        opening[target] = statuses

    def warm(target: str) -> None:
        run_load(LoadSpec(bench.peers[target].port, bench.files.hit, 1.0))

    def run_one(target: str, round_no: int) -> RunRecord | None:
        spec = LoadSpec(bench.peers[target].port, bench.files.hit, bench.plan.redis_down_duration)
        record = bench.measure(target, spec, round_no)
        print(
            f"    {target:24s} r{round_no} {record.rps:8.0f} req/s (Redis down)"
            f"  non2xx {record.non2xx} socket errors {record.socket_errors}"
        )
        return record

    print(f"  Redis down: {targets}")
    table = interleaved(targets, bench.plan.rounds, run_one, None if bench.plan.quick else warm)
    errors = {t: sum(r[t].non2xx + r[t].socket_errors for r in table if t in r) for t in targets}
    return {
        "opening_statuses": opening,
        "errors": errors,
        "summary": summarise(table, targets),
        "runs": records(table),
    }
