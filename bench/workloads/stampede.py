"""Stampede: 200 concurrent requests on one cold URL; how often did the view run?

Method: per round, a URL no workload requests elsewhere (``limit=33``) is cold on every target
(separate caches). 200 threads open their connections and send at once (a barrier); each
records its latency and the cache state the target reports. View executions = responses
that say MISS (a coalesced waiter says HIT); with no cache header the count is unknown and
the target is not judged. ``flask-constant`` takes the same burst (on a URL it knows) as the
queueing floor of 2 sync workers. The single-miss reference is the median of 5 sequential
cold requests. If the app has ``flask cache stats``, its list-route miss counter before and
after all rounds (less the single-miss probes) corroborates the count
(``app_list_misses_in_bursts``).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from typing import Any

from bench import probe, stats
from bench.runner import Bench

TARGETS = ("app", "flask-caching", "express", "flask-constant")
LIST_ENDPOINT = "posts.list_posts"


def _burst(port: int, path: str, clients: int, kind: str) -> tuple[list[float], Counter[str]]:
    barrier = threading.Barrier(clients)
    latencies: list[float] = []
    states: Counter[str] = Counter()
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        try:
            reply = probe.fetch(port, path, timeout=30.0)
            state = probe.cache_state(reply, kind) if reply.status == 200 else f"{reply.status}"
        except OSError as exc:
            with lock:
                states[f"error {exc.__class__.__name__}"] += 1
            return
        with lock:
            latencies.append(reply.elapsed * 1000)
            states[state or "no header"] += 1

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return latencies, states


def _single_miss_ms(port: int, paths: list[str]) -> float | None:
    times = []
    for path in paths:
        reply = probe.fetch(port, path)
        if reply.status == 200:
            times.append(reply.elapsed * 1000)
    return sorted(times)[len(times) // 2] if times else None


def parse_stats(text: str | None) -> dict[str, dict[str, int]]:
    """``flask cache stats``' table -> endpoint -> counter -> value (empty if unreadable)."""
    lines = [line.split() for line in (text or "").splitlines() if line.strip()]
    if not lines or lines[0][0] != "endpoint":
        return {}
    columns = lines[0][1:]
    table: dict[str, dict[str, int]] = {}
    for row in lines[1:]:
        if len(row) == len(columns) + 1 and all(v.isdigit() for v in row[1:]):
            table[row[0]] = dict(zip(columns, map(int, row[1:]), strict=True))
    return table


def cache_stats(bench: Bench) -> str | None:
    """``flask --app app cache stats`` against the bench Redis, or None if there is none."""
    env = dict(bench.peers["app"].spec.env)
    try:
        done = subprocess.run(
            [str(bench.python.parent / "flask"), "--app", "app", "cache", "stats"],
            cwd=bench.root, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def settled_stats(bench: Bench) -> str | None:
    """``cache_stats`` once every worker has pushed its pending counters.

    Workers add to the shared counters at most once a second, on their next request: wait,
    then send a concurrent burst to a post (another endpoint than the list route counted
    here), so that every worker, not just the one that keeps winning accept(), gets one.
    """
    time.sleep(1.2)
    post = next(p for p in bench.hit_urls if "?" not in p)
    _burst(bench.peers["app"].port, post, 16, "x-cache")
    return cache_stats(bench)


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(TARGETS)
    clients = bench.plan.stampede_clients
    stats_before = settled_stats(bench) if "app" in targets else None
    results: dict[str, Any] = {}
    for round_no in range(bench.plan.rounds):
        cold = f"/api/v1/posts?page={3 + round_no}&limit=33"
        singles = [f"/api/v1/posts?page={p + 10 * round_no}&limit=34" for p in range(1, 6)]
        for target in stats.rotated(targets, round_no):
            peer = bench.peers[target]
            constant = peer.spec.cache == "none"  # knows only the hit mix's URLs
            path = bench.hit_urls[round_no] if constant else cold
            single = _single_miss_ms(peer.port, bench.hit_urls[-5:] if constant else singles)
            latencies, states = _burst(peer.port, path, clients, peer.spec.cache)
            misses = states.get("MISS") if peer.spec.cache != "none" else None
            if peer.spec.cache != "none" and not any(s in states for s in ("HIT", "MISS")):
                misses = None
            p99 = stats.percentile(latencies, 99)
            results.setdefault(target, []).append({
                "round": round_no, "path": path, "states": dict(states),
                "view_executions": misses, "p50_ms": stats.percentile(latencies, 50),
                "p99_ms": p99, "single_miss_ms": single,
                "p99_over_single_miss": stats.safe_ratio(p99, single),
            })  # fmt: skip
            print(
                f"    {target:24s} r{round_no} states {dict(states)} p99 {p99 or 0:.0f} ms"
                f" (single miss {single or 0:.1f} ms)"
            )
    stats_after = settled_stats(bench) if "app" in targets else None
    executions = None
    if stats_before is not None and stats_after is not None:
        before = parse_stats(stats_before).get(LIST_ENDPOINT, {}).get("miss", 0)
        after = parse_stats(stats_after).get(LIST_ENDPOINT, {}).get("miss", 0)
        # every list miss in the window: the bursts plus 5 sequential single-miss probes a round
        executions = after - before - 5 * bench.plan.rounds
    return {
        "clients": clients,
        "rounds": results,
        "cache_stats_before": stats_before,
        "cache_stats_after": stats_after,
        "app_list_misses_in_bursts": executions,
    }
