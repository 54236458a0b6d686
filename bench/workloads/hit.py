"""Hit path (c=16) and hit latency (c=1): warm caches, the hit URL mix, every target.

Contract of ``run(bench)`` (hit), ``run_single(bench)`` (hit-single) and
``run_latency(bench)`` (latency):
- URL mix: ``dataset.hit_urls`` (50 list pages, 200 posts, shuffled), rotated by wrk, like
  real clients; ``hit-single`` drives one cached post (``files.single``) instead, the
  figure a one-URL test reports.
- Before the warm-up every cache peer is asked for the first URL (expected MISS); before and
  after every measured run the first and last URLs must answer HIT (``checks`` in each record;
  ``hits_verified`` summarises). A target without a cache header is reported as "no HITs".
- Figures: ``runner.summarise`` with ratios against every other target of the same round.
- Latency only: right after each target's wrk ``-c1`` run, in the same round, a sequential
  client (``bench.server_timing.sample``, still c=1, bounded by the plan's
  ``server_timing_requests`` / ``server_timing_seconds``) walks the same URL mix and reads each
  HIT's ``Server-Timing`` (the Python targets run with ``SERVER_TIMING=true``; only this app
  sends it; ``app-timing`` is ``make run`` with ``SERVER_TIMING=true``, the only app target
  that sets it). Per round: median, p90, p99 (``checks["server_timing"]`` of the record); over
  rounds: ``server_timing[target]`` (None for targets that send none). The goal is judged on
  the server-side median; wrk's client-side p50 stays in ``summary``.
"""

from __future__ import annotations

from typing import Any

from bench import server_timing
from bench.load import LoadSpec, run_load
from bench.runner import Bench, RunRecord, interleaved, records, summarise
from bench.workloads.checks import all_hits, cache_states, compare_peers

HIT_TARGETS = (
    "app", "flask-caching", "flask-constant", "express-limiter", "app-nocache",
    "app-nolimit", "flask-caching-nolimit", "flask-constant-nolimit", "express",
)  # fmt: skip
COLD_CHECK = ("app", "flask-caching", "express")
LATENCY_TARGETS = ("app-timing", "flask-caching", "flask-constant", "express-limiter", "express")
PROBE_TARGETS = ("app-nocache", "app", "flask-caching", "flask-constant", "express",
                 "express-nocache")  # fmt: skip


def _edges(bench: Bench, single: bool = False) -> list[str]:
    if single:
        return bench.files.single.read_text().split()[:1]
    return [bench.hit_urls[0], bench.hit_urls[-1]]


def _warmup(bench: Bench, seconds: float, single: bool = False) -> Any:
    def warm(target: str) -> None:
        if bench.plan.quick and bench.peers[target].spec.cache == "none":
            return  # quick runs warm only what must be filled: the caches
        urls = bench.files.single if single else bench.files.hit
        run_load(LoadSpec(bench.peers[target].port, urls, seconds))

    return warm


def _runner(
    bench: Bench, duration: float, connections: int, timed: bool = False, single: bool = False
) -> Any:
    urls = bench.files.single if single else bench.files.hit

    def run(target: str, round_no: int) -> RunRecord | None:
        peer = bench.peers[target]
        if not bench.peers.ready(target):
            return None
        caching = peer.spec.cache != "none"
        before = cache_states(bench, target, _edges(bench, single)) if caching else []
        spec = LoadSpec(peer.port, urls, duration, connections)
        record = bench.measure(target, spec, round_no)
        if caching:
            after = cache_states(bench, target, _edges(bench, single))
            record.checks = {"before": before, "after": after,
                             "hits": all_hits(before) and all_hits(after)}  # fmt: skip
        line = (
            f"    {target:24s} r{round_no} {record.rps:8.0f} req/s  p99 {record.p99_ms:6.1f} ms"
            f"  cpu {record.server_cpu_us or 0:6.0f} us/req  other {record.other_cores:.2f}"
        )
        if timed and caching:
            figures = _timed_round(bench, target)
            record.checks["server_timing"] = figures
            if figures and figures["median_ms"] is not None:
                line += (
                    f"\n    {'':24s}    server (Server-Timing) median {figures['median_ms']:.3f}"
                    f" ms  p99 {figures['p99_ms']:.3f} ms  over {figures['hits_timed']} hits"
                )
        print(line)
        return record

    return run


def _check_cells(verdicts: dict[str, str], summary: dict[str, Any]) -> dict[str, str]:
    """The hit table's last column: HIT verdict, Redis hit ratio, imbalanced workers."""
    cells = {}
    for target, entry in summary.items():
        parts = [verdicts[target]] if target in verdicts else []
        ratio = entry.get("redis_hit_ratio")
        if target in verdicts and ratio is not None:
            parts.append(f"redis hits {ratio:.1%}")
        if entry.get("imbalanced_runs"):
            parts.append(f"imbalanced workers in {entry['imbalanced_runs']} run(s)")
        cells[target] = ", ".join(parts)
    return cells


def _verified(table: list[dict[str, RunRecord]]) -> dict[str, str]:
    verdicts: dict[str, str] = {}
    for row in table:
        for target, rec in row.items():
            if not rec.checks:
                continue
            states = [*rec.checks["before"], *rec.checks["after"]]
            if all(s is None for s in states):
                verdict = "no HITs (no cache header)"
            elif rec.checks["hits"]:
                verdict = "all HIT"
            else:
                verdict = f"not all HIT: {states}"
            if verdicts.get(target, "all HIT") == "all HIT":
                verdicts[target] = verdict
    return verdicts


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(HIT_TARGETS)
    # The -nolimit variants share their twin's Redis and key prefix, so only the primary cache
    # peers can be seen cold.
    cold = {t: cache_states(bench, t, _edges(bench)[:1])[0] for t in targets if t in COLD_CHECK}
    probe_result = compare_peers(bench, bench.available(PROBE_TARGETS), _probe_paths(bench))
    if not probe_result["all_equal"]:
        bench.note(f"peers disagree on some URLs: {probe_result['urls']}")
    plan = bench.plan
    print(f"  hit path: {len(targets)} targets x {plan.rounds} rounds x {plan.duration:.0f}s")
    table = interleaved(
        targets, plan.rounds, _runner(bench, plan.duration, 16), _warmup(bench, plan.warmup)
    )
    verdicts = _verified(table)
    for target, verdict in verdicts.items():
        if verdict != "all HIT":
            bench.note(f"hit path, {target}: {verdict}")
    summary = summarise(table, targets)
    return {
        "connections": 16,
        "urls": len(bench.hit_urls),
        "cold_state": cold,
        "hits_verified": verdicts,
        "check_cells": _check_cells(verdicts, summary),
        "correctness_probe": probe_result,
        "summary": summary,
        "runs": records(table),
    }


def run_single(bench: Bench) -> dict[str, Any]:
    """The hit path on one cached post (every target, same rounds as ``run``)."""
    targets = bench.available(HIT_TARGETS)
    plan = bench.plan
    print(f"  hit path, one URL: {len(targets)} targets x {plan.rounds} rounds")
    table = interleaved(
        targets,
        plan.rounds,
        _runner(bench, plan.duration, 16, single=True),
        _warmup(bench, min(plan.warmup, 1.0), single=True),
    )
    verdicts = _verified(table)
    for target, verdict in verdicts.items():
        if verdict != "all HIT":
            bench.note(f"hit path (one URL), {target}: {verdict}")
    summary = summarise(table, targets)
    return {
        "connections": 16,
        "url": _edges(bench, single=True)[0],
        "hits_verified": verdicts,
        "check_cells": _check_cells(verdicts, summary),
        "summary": summary,
        "runs": records(table),
    }


def _probe_paths(bench: Bench) -> list[str]:
    lists = [p for p in bench.hit_urls if "?" in p][:2]
    singles = [p for p in bench.hit_urls if "?" not in p][:3]
    missing = max(bench.authors) + 1
    return [*lists, *singles, f"/api/v1/posts/{missing}"]


def run_latency(bench: Bench) -> dict[str, Any]:
    targets = bench.available(LATENCY_TARGETS)
    plan = bench.plan
    print(f"  hit latency (c=1): {len(targets)} targets x {plan.rounds} rounds")
    warm = None if plan.runs("hit") else _warmup(bench, 1.0)  # the hit path left them warm
    runner = _runner(bench, plan.latency_duration, 1, timed=True)
    table = interleaved(targets, plan.rounds, runner, warm)
    server_side = {
        target: server_timing.summarise(
            [row[target].checks.get("server_timing") for row in table if target in row]
        )
        for target in targets
    }
    for target, entry in server_side.items():
        if entry and (entry["not_hit"] or entry["missing"]):
            problems = [r["first_problem"] for r in entry["rounds"] if r["first_problem"]]
            bench.note(
                f"latency, {target}: {entry['not_hit']} answers of the Server-Timing client were "
                f"not 200 HITs, {entry['missing']} had no Server-Timing (first: {problems[:1]})"
            )
    return {
        "connections": 1,
        "summary": summarise(table, targets),
        "server_timing": server_side,
        "server_timing_bounds": {
            "requests": plan.server_timing_requests,
            "seconds": plan.server_timing_seconds,
        },
        "runs": records(table),
    }


def _timed_round(bench: Bench, target: str) -> dict[str, Any] | None:
    """One round of the sequential Server-Timing client against ``target``."""
    peer = bench.peers[target]
    found = server_timing.sample(
        peer.port,
        bench.hit_urls,
        peer.spec.cache,
        max_requests=bench.plan.server_timing_requests,
        max_seconds=bench.plan.server_timing_seconds,
    )
    return server_timing.round_figures(found)
