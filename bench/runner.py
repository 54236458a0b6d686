"""Rounds, interleaving and the measurement of one run.

Contract:
- ``Bench`` is what every workload receives: the plan, the running peers, the bench's own
  Redis, the request files, a ``Meter`` over every process tree we started, and ``note()``
  for anything the report must say (a skipped check, a peer that failed).
- ``Bench.measure(target, spec)`` runs one load against one target and returns a ``RunRecord``:
  throughput and latency from the load generator; server, Redis and load-generator CPU per
  request (µs); "other load" (busy cores not ours, interrupt time excluded); the CPU split
  between gunicorn workers; Redis keyspace hits and misses during the run.
- ``interleaved(targets, rounds, run, warmup)``: one unmeasured warm-up round (if given), then
  ``rounds`` rounds; each round runs every target once, the starting target rotating. Returns
  one mapping target -> record per round (a ``None`` from ``run`` leaves the target out).
- ``summarise(per_round, references)``: per target, median/min/max of every figure, the
  median of per-round throughput (and p99) ratios against each reference present, the Redis
  keyspace hit ratio over its runs, and how many runs had ``imbalanced`` gunicorn workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis as redis_py

from bench import stats
from bench.cpu import Meter
from bench.load import LoadSpec, run_load
from bench.peers import PeerSet
from bench.plan import Plan
from tests.support.redis_server import RedisServer


@dataclass
class RunRecord:
    target: str
    round: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    server_cpu_us: float | None
    redis_cpu_us: float | None
    wrk_cpu_us: float | None
    other_cores: float
    busy_cores: float
    irq_cores: float
    worker_cpu_s: list[float]
    redis_hits: int | None
    redis_misses: int | None
    generator: str
    checks: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Files:
    hit: Path
    lists: Path
    miss: Path
    single: Path  # one published post's URL (the hit-single workload)


@dataclass
class Bench:
    plan: Plan
    root: Path
    tmp: Path
    python: Path
    peers: PeerSet
    redis: RedisServer
    files: Files
    published: list[int]
    authors: dict[int, int]
    hit_urls: list[str]
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        print(f"  note: {text}")
        self.notes.append(text)

    def available(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if self.peers.ready(n)]

    def redis_client(self) -> redis_py.Redis:
        return self.redis.client(timeout=30.0)

    def meter(self) -> Meter:
        roots = {name: peer.pid for name, peer in self.peers.peers.items() if peer.alive()}
        if self.redis.proc is not None:
            roots["redis"] = self.redis.proc.pid
        return Meter(roots)

    def _keyspace(self) -> tuple[int, int] | None:
        if self.redis.proc is None:
            return None
        try:
            info = self.redis.client(timeout=2.0).info("stats")
        except redis_py.RedisError:
            return None
        return int(info["keyspace_hits"]), int(info["keyspace_misses"])

    def measure(self, target: str, spec: LoadSpec, round_no: int) -> RunRecord:
        meter = self.meter()
        keys_before = self._keyspace()
        before = meter.snapshot()
        result = run_load(spec)
        after = meter.snapshot()
        keys_after = self._keyspace()
        usage = Meter.usage(before, after)
        n = max(result.requests, 1)

        def per_request(seconds: float | None) -> float | None:
            return None if seconds is None else seconds / n * 1e6

        hits = misses = None
        if keys_before and keys_after:
            hits, misses = keys_after[0] - keys_before[0], keys_after[1] - keys_before[1]
        return RunRecord(
            target=target,
            round=round_no,
            rps=result.rps,
            p50_ms=result.p50_ms,
            p90_ms=result.p90_ms,
            p99_ms=result.p99_ms,
            max_ms=result.max_ms,
            requests=result.requests,
            non2xx=result.non2xx,
            socket_errors=result.socket_errors,
            server_cpu_us=per_request(usage.trees.get(target)),
            redis_cpu_us=per_request(usage.trees.get("redis")),
            # The asyncio fallback runs inside this process: its CPU is our own.
            wrk_cpu_us=per_request(usage.wrk if result.generator == "wrk" else usage.own),
            other_cores=usage.other_cores,
            busy_cores=usage.busy_cores,
            irq_cores=usage.irq_cores,
            worker_cpu_s=usage.workers.get(target, []),
            redis_hits=hits,
            redis_misses=misses,
            generator=result.generator,
        )


RoundTable = list[dict[str, RunRecord]]


def interleaved(
    targets: Sequence[str],
    rounds: int,
    run: Callable[[str, int], RunRecord | None],
    warmup: Callable[[str], None] | None = None,
) -> RoundTable:
    if warmup is not None:
        for target in targets:
            warmup(target)
    table: RoundTable = []
    for round_no in range(rounds):
        row: dict[str, RunRecord] = {}
        for target in stats.rotated(list(targets), round_no):
            record = run(target, round_no)
            if record is not None:
                row[target] = record
        table.append(row)
    return table


_FIGURES = (
    "rps", "p50_ms", "p99_ms", "server_cpu_us", "redis_cpu_us", "wrk_cpu_us", "other_cores",
)  # fmt: skip


def figure_table(table: RoundTable, figure: str) -> list[dict[str, float | None]]:
    return [{t: getattr(rec, figure) for t, rec in row.items()} for row in table]


def imbalanced(worker_cpu: Sequence[float]) -> bool:
    """Two or more workers, and one did less than a quarter of an even share of the work."""
    total = sum(worker_cpu)
    if len(worker_cpu) < 2 or total <= 0:
        return False
    return min(worker_cpu) < 0.25 * total / len(worker_cpu)


def summarise(table: RoundTable, references: Sequence[str]) -> dict[str, Any]:
    targets = list(dict.fromkeys(t for row in table for t in row))
    rps = figure_table(table, "rps")
    p99 = figure_table(table, "p99_ms")
    summary: dict[str, Any] = {}
    for target in targets:
        entry: dict[str, Any] = {}
        for figure in _FIGURES:
            values = [getattr(row[target], figure) for row in table if target in row]
            found = stats.spread(values)
            entry[figure] = found.as_dict() if found else None
        runs = [row[target] for row in table if target in row]
        entry["imbalanced_runs"] = sum(1 for rec in runs if imbalanced(rec.worker_cpu_s))
        hits = sum(rec.redis_hits or 0 for rec in runs)
        misses = sum(rec.redis_misses or 0 for rec in runs)
        entry["redis_hit_ratio"] = hits / (hits + misses) if hits + misses else None
        entry["non2xx"] = sum(row[target].non2xx for row in table if target in row)
        entry["socket_errors"] = sum(row[target].socket_errors for row in table if target in row)
        entry["ratios"] = {}
        for ref in references:
            if ref == target or not any(ref in row for row in table):
                continue
            ratio = stats.round_ratio(rps, target, ref)
            p99_ratio = stats.round_ratio(p99, target, ref)
            entry["ratios"][ref] = {
                "rps": ratio.as_dict() if ratio else None,
                "p99": p99_ratio.as_dict() if p99_ratio else None,
            }
        summary[target] = entry
    return summary


def records(table: RoundTable) -> list[dict[str, Any]]:
    return [rec.as_dict() for row in table for rec in row.values()]
