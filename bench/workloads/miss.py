"""Miss path: every request a miss; and the uncached list against the Express recipe's.

Method (the same for every target, so the ratios compare like with like):
- The app keys only the query parameters it declares, so a cache-busting ``_miss=N``
  parameter would still hit. Instead each run walks ``dataset.miss_urls``: every published
  post and every list page for ``limit`` 15..25 (not 20, the hit mix's), each URL once,
  shuffled. The bench's private Redis is emptied (SCAN + UNLINK on our own server, never the
  machine's) before every run, so every cache starts cold and no URL repeats within a run.
  ``wrapped`` flags a run that served more requests than the list holds (it would have hit).
  wrk replays the list from its first line (``rotate.lua``), so the first URL was requested.
- After each run the first URL must be a HIT on cache peers (the misses were stored).
- Uncached list: ``app-nocache`` vs ``express-nocache`` (and ``app-nocache-pg``) on the 50
  list pages (``page=1..50&limit=20``); no cache is involved, so repetition is fine.
"""

from __future__ import annotations

from typing import Any

from bench import private_redis
from bench.load import LoadSpec
from bench.runner import Bench, RunRecord, interleaved, records, summarise
from bench.workloads.checks import cache_states

MISS_TARGETS = ("app", "app-nocache", "flask-caching", "express", "express-nocache",
                "app-nocache-pg")  # fmt: skip
# app-nocache carries its rate limiter on Redis: express-nocache-limiter is its like.
LIST_TARGETS = ("app-nocache", "express-nocache-limiter", "express-nocache", "app-nocache-pg")


def _run_miss(bench: Bench, domain: int, first_url: str) -> Any:
    def run(target: str, round_no: int) -> RunRecord | None:
        peer = bench.peers[target]
        private_redis.empty(bench.redis_client())
        spec = LoadSpec(peer.port, bench.files.miss, bench.plan.miss_duration)
        record = bench.measure(target, spec, round_no)
        record.checks = {"wrapped": record.requests > domain}
        if peer.spec.cache != "none":
            record.checks["stored"] = cache_states(bench, target, [first_url])[0]
        print(
            f"    {target:24s} r{round_no} {record.rps:8.0f} req/s (miss)"
            f"  cpu {record.server_cpu_us or 0:6.0f} us/req"
        )
        return record

    return run


def _run_list(bench: Bench) -> Any:
    def run(target: str, round_no: int) -> RunRecord | None:
        spec = LoadSpec(bench.peers[target].port, bench.files.lists, bench.plan.miss_duration)
        record = bench.measure(target, spec, round_no)
        print(f"    {target:24s} r{round_no} {record.rps:8.0f} req/s (uncached list)")
        return record

    return run


def run(bench: Bench) -> dict[str, Any]:
    urls = bench.files.miss.read_text().split()
    targets = bench.available(MISS_TARGETS)
    print(f"  miss path: {len(targets)} targets x {bench.plan.rounds} rounds")
    table = interleaved(targets, bench.plan.rounds, _run_miss(bench, len(urls), urls[0]))
    wrapped = sorted({r.target for row in table for r in row.values() if r.checks["wrapped"]})
    if wrapped:
        bench.note(f"miss path: {wrapped} served more requests than unique URLs (some hits)")
    list_targets = bench.available(LIST_TARGETS)
    list_table = interleaved(list_targets, bench.plan.rounds, _run_list(bench))
    return {
        "method": "each URL once per run (posts + list pages with limit 15..25), "
        "bench Redis emptied before every run",
        "unique_urls": len(urls),
        "wrapped": wrapped,
        "summary": summarise(table, targets),
        "runs": records(table),
        "uncached_list": {
            "summary": summarise(list_table, list_targets),
            "runs": records(list_table),
        },
    }
