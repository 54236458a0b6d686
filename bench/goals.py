"""The issue's targets, judged from the results document (pure: no I/O).

Contract: ``evaluate(results)`` returns one ``Goal`` per target of issue 7 (and the
correctness checks the bench makes): what was measured, the bar, and ``met`` (True, False,
or None when the workload did not run or the figure is missing, e.g. no cache header).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Goal:
    workload: str
    target: str
    measured: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dig(doc: Any, *path: str) -> Any:
    """``doc[path[0]][path[1]]...`` or None when any step is missing."""
    for step in path:
        if not isinstance(doc, dict) or step not in doc:
            return None
        doc = doc[step]
    return doc


def _fmt(value: float | None, unit: str = "x", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def _ratio_goal(results: dict[str, Any], workload: str, path: tuple[str, ...], subject: str,
                reference: str, bar: float, text: str, higher: bool = True,
                figure: str = "rps") -> Goal:  # fmt: skip
    value = dig(results, workload, *path, subject, "ratios", reference, figure, "median")
    met = None if value is None else (value >= bar if higher else value <= bar)
    return Goal(workload, text, _fmt(value), met)


def _hit_goals(results: dict[str, Any]) -> list[Goal]:
    goals = [
        _ratio_goal(results, "hit", ("summary",), "app", "flask-caching", 1.5,
                    "hit req/s >= 1.5x Flask-Caching"),
        _ratio_goal(results, "hit", ("summary",), "app", "flask-constant", 0.9,
                    "hit req/s >= 0.9x constant-body Flask route"),
        _ratio_goal(results, "hit", ("summary",), "app", "flask-constant", 1.25,
                    "hit p99 <= 1.25x constant route's p99", higher=False, figure="p99"),
        _ratio_goal(results, "hit", ("summary",), "app", "express-limiter", 1.0,
                    "hit req/s vs Express recipe, both rate-limited (aim >= 1.0)"),
        _ratio_goal(results, "hit", ("summary",), "app-nolimit", "express", 1.0,
                    "hit req/s vs Express recipe, neither rate-limited (aim >= 1.0)"),
    ]  # fmt: skip
    verdict = dig(results, "hit", "hits_verified", "app")
    goals.append(
        Goal(
            "hit",
            "hits really are HITs (X-Cache, first/last URL, every run)",
            verdict or "n/a",
            None if verdict is None else verdict == "all HIT",
        )
    )
    summary = dig(results, "hit", "summary") or {}
    bad = {t: s["non2xx"] + s["socket_errors"] for t, s in summary.items()
           if s["non2xx"] or s["socket_errors"]}  # fmt: skip
    goals.append(
        Goal(
            "hit",
            "no non-2xx or socket errors in hit runs",
            str(bad or "none"),
            None if not summary else not bad,
        )
    )
    return goals


def _latency_goal(results: dict[str, Any]) -> Goal:
    """Judged on the app's ``Server-Timing`` median (median of per-round medians) over HITs
    read by the sequential client; every answer must have been a HIT. Without one, the wrk
    client-side median is shown (an upper bound)."""
    text = "hit median <= 0.5 ms at the server (c=1)"
    client = dig(results, "latency", "summary", "app-timing", "p50_ms", "median")
    client_text = f"client (wrk) p50 {_fmt(client, ' ms', 3)}"
    server = dig(results, "latency", "server_timing", "app-timing")
    median = dig(server, "median_ms", "median")
    if server is not None and median is not None:
        p99 = dig(server, "p99_ms", "median")
        bad = server["not_hit"] + server["missing"]
        measured = (
            f"{median:.3f} ms at the server (Server-Timing; p99 {_fmt(p99, ' ms', 3)}, "
            f"{server['hits_timed']:,} HITs"
            + (f", {bad} answers not timed HITs" if bad else "")
            + f"); {client_text}"
        )
        return Goal("latency", text, measured, median <= 0.5 and bad == 0)
    return Goal(
        "latency", text,
        f"{_fmt(client, ' ms', 3)} at the client (no Server-Timing; an upper bound)",
        None if client is None else client <= 0.5,
    )  # fmt: skip


def _miss_goals(results: dict[str, Any]) -> list[Goal]:
    return [
        _ratio_goal(results, "miss", ("summary",), "app", "app-nocache", 0.9,
                    "miss req/s >= 0.9x the same app with caching off"),
        _ratio_goal(results, "miss", ("uncached_list", "summary"), "app-nocache",
                    "express-nocache-limiter", 0.8,
                    "uncached list >= 0.8x Express's uncached list (both rate-limited)"),
    ]  # fmt: skip


def _stampede_goals(results: dict[str, Any]) -> list[Goal]:
    rounds = dig(results, "stampede", "rounds", "app")
    if not rounds:
        return [Goal("stampede", "200 concurrent cold requests run the view at most once",
                     "n/a", None)]  # fmt: skip
    runs = [r["view_executions"] for r in rounds]
    known = [r for r in runs if r is not None]
    worst = max(known) if known else None
    p99 = [r["p99_over_single_miss"] for r in rounds if r["p99_over_single_miss"] is not None]
    ratio = max(p99) if p99 else None
    return [
        Goal("stampede", "200 concurrent cold requests run the view at most once",
             "unknown (no cache header)" if worst is None else f"{worst} (worst round)",
             None if worst is None else worst <= 1),
        Goal("stampede", "stampede p99 <= 2x a single miss", _fmt(ratio),
             None if ratio is None else ratio <= 2.0),
    ]  # fmt: skip


def _invalidation_goal(results: dict[str, Any]) -> Goal:
    sizes = dig(results, "invalidation", "sizes") or {}
    times = {int(n): dig(e, "app", "redis_ms") for n, e in sizes.items()}
    text = "invalidate tag `posts`: flat in key count, <= 1 ms at 1M keys"
    if not times or any(t is None for t in times.values()):
        return Goal("invalidation", text, "n/a (app not measured)", None)
    low, high = times[min(times)], times[max(times)]
    shown = ", ".join(f"{n:,}: {t:.2f} ms" for n, t in sorted(times.items()))
    return Goal("invalidation", text, shown, high <= 1.0 and high <= 2 * max(low, 0.05))


def _sessions_goal(results: dict[str, Any]) -> Goal:
    text = "signed-in read, Redis up: 0 session queries (cached sessions)"
    per_read = dig(results, "sessions", "cached_redis_up", "session_queries_per_read")
    if per_read is None:
        return Goal("sessions", text, "n/a (not measured)", None)
    return Goal("sessions", text, f"{per_read:g} per read", per_read == 0)


def _other_goals(results: dict[str, Any]) -> list[Goal]:
    down = _ratio_goal(results, "redis-down", ("summary",), "app", "app-nocache", 0.9,
                       "Redis down: req/s >= 0.9x cache-off app")  # fmt: skip
    errors = dig(results, "redis-down", "errors", "app")
    if down.met is not None and errors is not None:
        down.measured += f", {errors} errors"
        down.met = down.met and errors == 0
    mixed = _ratio_goal(
        results,
        "mixed",
        ("summary",),
        "app",
        "flask-caching",
        2.0,
        "mixed req/s >= 2x Flask-Caching with pattern invalidation",
    )
    stale = dig(results, "mixed", "stale_reads", "app")
    goals = [down, mixed, Goal("mixed", "zero stale reads (app)", _fmt(stale, "", 0),
                               None if stale is None else stale == 0)]  # fmt: skip
    memory = dig(results, "memory", "app")
    if memory is not None:
        ratio = memory.get("entry_over_body")
        goals.append(Goal("memory", "Redis bytes per entry <= 1.2x body + 256 B",
                          f"{_fmt(ratio)} of body ({memory['stored']}/20 stored)",
                          memory["within_bound"] if memory["stored"] else None))  # fmt: skip
        encoding = dig(results, "memory", "app_compression", "content_encoding")
        goals.append(Goal("memory", "bodies > 1 KiB served compressed when accepted",
                          str(encoding), encoding is not None))  # fmt: skip
    return goals


def evaluate(results: dict[str, Any]) -> list[Goal]:
    return [
        *_hit_goals(results),
        _latency_goal(results),
        *_miss_goals(results),
        *_stampede_goals(results),
        _invalidation_goal(results),
        _sessions_goal(results),
        *_other_goals(results),
        *_round_two_goals(results),
    ]


def _round_two_goals(results: dict[str, Any]) -> list[Goal]:
    """Issue 17's bars: the miss, the fastest worker model against Node, mixed, scaling."""
    goals = [
        _ratio_goal(results, "miss", ("summary",), "app", "app-nocache", 0.85,
                    "miss req/s >= 0.85x the cache-off app (issue 17)"),
    ]  # fmt: skip
    fastest = dig(results, "workers", "fastest")
    if fastest is not None:
        for peer, what in (("express-limiter", "1 Node process"), ("express-limiter-2", "2")):
            goal = _ratio_goal(results, "workers", ("summary",), fastest, peer, 1.0,
                               f"fastest worker model (`{fastest}`) vs Express recipe with "
                               f"limiter, {what} (aim >= 1.0)")  # fmt: skip
            goals.append(goal)
    mixed = _ratio_goal(results, "mixed", ("summary",), "app", "flask-caching", 2.5,
                        "mixed req/s >= 2.5x Flask-Caching (issue 17)")  # fmt: skip
    goals.append(mixed)
    top = dig(results, "scaling", "levels", "256")
    if top is not None:
        errors = {t: e["non2xx"] + e["socket_errors"] for t, e in top.items()
                  if t.startswith("app") and e["non2xx"] + e["socket_errors"]}  # fmt: skip
        goals.append(Goal("scaling", "no errors at 256 connections (app targets)",
                          str(errors or "none"), not errors))  # fmt: skip
    return goals
