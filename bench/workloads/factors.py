"""What each setting costs a cache hit: ``make run``'s app against one-setting variants.

Every target is ``make run`` (``specs.APP_VARIANTS``): ``app`` as a user starts it, and
variants that each change one setting (the access log per line or off, per-worker metrics,
``APP_ENV=production``, ``SERVER_TIMING=true``), plus ``app-old-bench``, the settings the
benchmark used before it ran ``make run`` (production, Server-Timing, a write per log line,
per-worker metrics). Each is driven with the hit URL mix and with one cached post, in the same
interleaved rounds; a factor's cost is the median of its per-round req/s ratio to ``app``
(below 1.00: the setting costs hits/s) and its server CPU per request. Results:
``summary`` per URL set, ``factors`` (one row per variant) for the report.
"""

from __future__ import annotations

from typing import Any

from bench.runner import Bench, interleaved, records, summarise
from bench.workloads import hit

TARGETS = (
    "app", "app-log-line", "app-log-off", "app-metrics-local", "app-production", "app-timing",
    "app-old-bench",
)  # fmt: skip


def _rows(summaries: dict[str, dict[str, Any]], targets: list[str]) -> list[dict[str, Any]]:
    rows = []
    for target in targets:
        row: dict[str, Any] = {"target": target}
        for urls, summary in summaries.items():
            entry = summary.get(target) or {}
            ratio = (entry.get("ratios") or {}).get("app", {}).get("rps")
            row[urls] = {
                "rps": (entry.get("rps") or {}).get("median"),
                "vs_app": 1.0 if target == "app" else (ratio or {}).get("median"),
                "server_cpu_us": (entry.get("server_cpu_us") or {}).get("median"),
            }
        rows.append(row)
    return rows


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(TARGETS)
    if "app" not in targets:
        return {"skipped": "the app (make run) did not start"}
    plan = bench.plan
    print(f"  factors: {len(targets)} variants x {plan.factor_rounds} rounds x 2 URL sets")
    summaries: dict[str, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    for urls, single in (("mixed", False), ("single", True)):
        table = interleaved(
            targets,
            plan.factor_rounds,
            hit._runner(bench, plan.factor_duration, 16, single=single),
            hit._warmup(bench, min(plan.warmup, 1.0), single=single),
        )
        summaries[urls] = summarise(table, ["app"])
        runs += [{**run, "urls": urls} for run in records(table)]
    return {
        "connections": 16,
        "summary": summaries,
        "factors": _rows(summaries, targets),
        "runs": runs,
    }
