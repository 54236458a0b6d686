"""The latency workload's server-side figure: parsing, per-round and over-round figures, the
goal and the report table (pure: no load, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import goals, plan, report, server_timing
from bench.server_timing import Sample

GOAL = "hit median <= 0.5 ms at the server (c=1)"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("app;dur=0.123", 0.123),
        ("app;dur=0.100, db;dur=0.250", 0.35),
        ('app;desc="hit";dur="0.5"', 0.5),
        ("app; dur = 0.2", 0.2),
        ("app;DUR=1.5", 1.5),
        ("app;desc=hit", None),
        ("app;dur=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_server_timing_durations_are_summed_in_ms(header, expected):
    found = server_timing.duration_of(header)
    assert found == (None if expected is None else pytest.approx(expected))


def test_one_round_gives_median_and_nearest_rank_percentiles():
    durations = [float(v) / 100 for v in range(1, 101)]  # 0.01 .. 1.00 ms
    found = Sample(requests=102, server_ms=durations, client_ms=[0.9, 1.0, 1.1], not_hit=2)
    figures = server_timing.round_figures(found)
    assert figures is not None
    assert figures["median_ms"] == pytest.approx(0.505)
    assert figures["p90_ms"] == 0.9 and figures["p99_ms"] == 0.99 and figures["max_ms"] == 1.0
    assert figures["client_median_ms"] == 1.0
    assert (figures["requests"], figures["hits_timed"], figures["not_hit"]) == (102, 100, 2)


def test_a_target_without_the_header_has_no_figures():
    assert server_timing.round_figures(Sample(requests=1, sent_header=False, missing=1)) is None
    assert server_timing.summarise([None, None]) is None
    assert server_timing.summarise([]) is None


def test_rounds_are_summarised_as_the_median_of_per_round_figures():
    def round_of(median: float, p99: float, not_hit: int = 0) -> dict[str, Any]:
        return {"requests": 1000, "hits_timed": 1000 - not_hit, "not_hit": not_hit,
                "missing": 0, "errors": 0, "first_problem": None, "median_ms": median,
                "p90_ms": p99, "p99_ms": p99, "max_ms": p99, "client_median_ms": 1.0}  # fmt: skip

    found = server_timing.summarise(
        [round_of(0.30, 0.9), None, round_of(0.20, 0.5, not_hit=3), round_of(0.25, 0.7)]
    )
    assert found is not None
    assert found["median_ms"] == {"median": 0.25, "min": 0.2, "max": 0.3, "n": 3}
    assert found["p99_ms"]["median"] == 0.7
    assert (found["requests"], found["hits_timed"], found["not_hit"]) == (3000, 2997, 3)
    assert len(found["rounds"]) == 3


def test_the_quick_plan_bounds_the_client_more_tightly():
    quick, full = plan.make_plan(True), plan.make_plan(False)
    assert quick.server_timing_seconds < full.server_timing_seconds <= 5.0
    assert quick.server_timing_requests <= full.server_timing_requests <= 2000


def _spread(value: float) -> dict[str, float]:
    return {"median": value, "min": value, "max": value, "n": 1}


def _latency(server: dict[str, Any] | None, client_p50: float = 0.557) -> dict[str, Any]:
    summary_entry = {
        "rps": _spread(1800.0), "p50_ms": _spread(client_p50), "p99_ms": _spread(1.2),
        "server_cpu_us": _spread(400.0), "redis_cpu_us": _spread(20.0),
        "wrk_cpu_us": _spread(60.0), "other_cores": _spread(0.02), "non2xx": 0,
        "socket_errors": 0, "ratios": {},
    }  # fmt: skip
    return {
        "latency": {
            "summary": {"app-timing": summary_entry, "flask-constant": summary_entry},
            "server_timing": {"app-timing": server, "flask-constant": None},
            "server_timing_bounds": {"requests": 2000, "seconds": 4.0},
        }
    }


def _timed(median: float, not_hit: int = 0, missing: int = 0) -> dict[str, Any]:
    return {"median_ms": _spread(median), "p99_ms": _spread(0.41),
            "client_median_ms": _spread(1.3), "requests": 2000, "hits_timed": 2000 - not_hit,
            "not_hit": not_hit, "missing": missing, "rounds": []}  # fmt: skip


def _latency_goal(results: dict[str, Any]) -> goals.Goal:
    return next(g for g in goals.evaluate(results) if g.target == GOAL)


def test_the_latency_goal_is_judged_at_the_server_when_the_app_sends_server_timing():
    met = _latency_goal(_latency(_timed(0.183)))
    assert met.met is True
    assert met.measured.startswith("0.183 ms at the server (Server-Timing; p99 0.410 ms")
    assert "client (wrk) p50 0.557 ms" in met.measured
    assert _latency_goal(_latency(_timed(0.62))).met is False


def test_answers_that_were_not_timed_hits_fail_the_latency_goal():
    goal = _latency_goal(_latency(_timed(0.2, not_hit=4)))
    assert goal.met is False and "4 answers not timed HITs" in goal.measured
    assert _latency_goal(_latency(_timed(0.2, missing=1))).met is False


def test_without_server_timing_the_client_median_is_an_upper_bound():
    goal = _latency_goal(_latency(None, client_p50=0.45))
    assert goal.met is True and "at the client (no Server-Timing" in goal.measured
    assert _latency_goal(_latency(None)).met is False
    assert _latency_goal({}).met is None


def test_the_report_shows_the_server_side_table_beside_wrk():
    results = _latency(_timed(0.183))
    doc = {
        "meta": {
            "command": "python -m bench --quick --only latency",
            "plan": {},
            "elapsed_s": 30.0,
            "machine": {
                "date": "today",
                "nproc": 2,
                "cpu_model": "x",
                "kernel": "6",
                "memory_gib": 8,
                "versions": {},
            },
        },
        "results": results,
        "goals": [g.as_dict() for g in goals.evaluate(results)],
    }
    text = report.render_markdown(doc)
    assert "## Hit latency at the server (`Server-Timing`, c=1)" in text
    assert "at most 2,000 requests or 4 s" in text
    assert "| app-timing | 2,000 | 0 | 0.183 | 0.410 | 1.300 | 0.557 |" in text
    assert "| flask-constant | no `Server-Timing` | | | | | 0.557 |" in text
    assert f"| latency | {GOAL} | 0.183 ms at the server" in text
