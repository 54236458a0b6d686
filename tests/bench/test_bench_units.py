"""The benchmark's pure parts: figures, parsing, mixes, targets and report (no load, no I/O
beyond a temporary PNG)."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from bench import dataset, goals, png, probe, report, stats
from bench.cpu import parse_stat
from bench.load import LoadError, parse_wrk_output
from bench.workloads import workers
from bench.workloads.mixed import WRITERS, build_sequence
from bench.workloads.stampede import parse_stats

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000
  1 threads and 16 connections
Requests/sec:   3890.00
BENCH_JSON {"requests":7780,"duration_us":2000000,"bytes":28000000,"errors":{"connect":0,"read":1,"write":0,"status":3,"timeout":2},"latency_us":{"min":310,"mean":4100.5,"max":25000,"p50":3900,"p90":5000,"p99":11600,"p999":20000}}
"""  # noqa: E501


# -- figures ---------------------------------------------------------------------------------


def test_spread_is_median_with_min_and_max_ignoring_missing_values():
    found = stats.spread([3.0, None, 1.0, 2.0])
    assert found is not None
    assert (found.median, found.low, found.high, found.n) == (2.0, 1.0, 3.0, 3)
    assert stats.spread([None]) is None


def test_ratio_is_the_median_of_per_round_ratios_not_the_ratio_of_medians():
    rounds = [{"a": 100.0, "b": 100.0}, {"a": 300.0, "b": 100.0}, {"a": 100.0, "b": 50.0}]
    ratio = stats.round_ratio(rounds, "a", "b")
    assert ratio is not None
    assert ratio.median == 2.0  # per-round ratios 1, 3, 2
    a, b = stats.spread(r["a"] for r in rounds), stats.spread(r["b"] for r in rounds)
    assert a is not None and b is not None
    assert a.median / b.median == 1.0  # what a ratio of medians would have said


def test_ratio_skips_rounds_where_a_side_is_missing_or_zero():
    rounds = [{"a": 10.0}, {"a": 10.0, "b": 0.0}, {"a": 10.0, "b": 5.0}]
    ratio = stats.round_ratio(rounds, "a", "b")
    assert ratio is not None and ratio.n == 1 and ratio.median == 2.0
    assert stats.round_ratio([{"a": 1.0}], "a", "b") is None


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert stats.percentile(values, 50) == 50.0
    assert stats.percentile(values, 99) == 99.0
    assert stats.percentile(values, 100) == 100.0
    assert stats.percentile([], 50) is None


def test_rounds_rotate_the_starting_target():
    targets = ["a", "b", "c"]
    assert [stats.rotated(targets, r)[0] for r in range(4)] == ["a", "b", "c", "a"]
    assert sorted(stats.rotated(targets, 2)) == targets


# -- parsing ---------------------------------------------------------------------------------


def test_wrk_output_is_read_from_the_bench_json_line():
    result = parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 7780
    assert result.rps == pytest.approx(3890.0)
    assert (result.p50_ms, result.p99_ms) == (3.9, 11.6)
    assert result.non2xx == 3
    assert result.socket_errors == 3  # read + timeout


def test_wrk_output_without_the_json_line_is_an_error():
    with pytest.raises(LoadError):
        parse_wrk_output("Requests/sec: 10\n")


def test_proc_stat_with_spaces_and_parentheses_in_the_command_name():
    line = "42 (gunicorn: worker (app)) S 7 42 42 0 -1 4194560 1 0 0 0 150 50 20 30 20 0 1 0"
    ppid, cpu = parse_stat(line)
    assert ppid == 7
    assert cpu == pytest.approx(250 / __import__("os").sysconf("SC_CLK_TCK"))


def test_cache_stats_table_is_parsed_per_endpoint():
    text = (
        "endpoint   hit  miss  stale  bypass  store  error\n"
        "posts.get_post   1  52  0  0  52  0\n"
        "posts.list_posts 0  23  0  0  23  0\n"
    )
    table = parse_stats(text)
    assert table["posts.list_posts"]["miss"] == 23
    assert parse_stats(None) == {} and parse_stats("Error: no such command") == {}


def test_cache_state_reads_x_cache_cache_status_and_flask_caching():
    def reply(headers: dict[str, str]) -> probe.Reply:
        return probe.Reply(200, headers, b"{}", 0.0)

    assert probe.cache_state(reply({"x-cache": "HIT"}), "x-cache") == "HIT"
    assert probe.cache_state(reply({"cache-status": "app; hit"}), "x-cache") == "HIT"
    assert probe.cache_state(reply({"cache-status": "app; fwd=miss"}), "x-cache") == "MISS"
    assert probe.cache_state(reply({}), "x-cache") is None
    assert probe.cache_state(reply({"hit_cache": "True"}), "flask-caching") == "HIT"
    assert probe.cache_state(reply({}), "flask-caching") == "MISS"


def test_datetimes_compare_equal_whatever_their_spelling():
    ours = {"created_at": "2024-01-01T00:56:00Z", "title": "2024 was a year"}
    node = {"created_at": "2024-01-01T00:56:00.000+00:00", "title": "2024 was a year"}
    assert probe.normalise(ours) == probe.normalise(node)
    assert probe.normalise({"t": "2024-01-01T00:56:01Z"}) != probe.normalise(ours)


# -- mixes -----------------------------------------------------------------------------------


def test_zipf_is_deterministic_and_skewed_towards_rank_zero():
    first = [dataset.Zipf(100, 1.0, seed=3).sample() for _ in range(1)]
    a, b = dataset.Zipf(100, 1.0, seed=3), dataset.Zipf(100, 1.0, seed=3)
    draws_a = [a.sample() for _ in range(5000)]
    assert draws_a == [b.sample() for _ in range(5000)]
    assert draws_a[:1] == first
    counts = Counter(draws_a)
    assert counts[0] > counts[1] > counts[10] > counts.get(90, 0)
    assert all(0 <= d < 100 for d in draws_a)


def test_hit_mix_is_deterministic_with_50_lists_and_200_distinct_posts():
    published = list(range(1, 9001))
    urls = dataset.hit_urls(published)
    assert urls == dataset.hit_urls(list(reversed(published)))
    assert len(urls) == len(set(urls)) == 250
    assert sum("?" in u for u in urls) == 50
    assert dataset.list_path(1) in urls and dataset.list_path(50) in urls


def test_miss_mix_repeats_no_url_and_never_uses_the_hit_mix_list_pages():
    published = list(range(1, 9001))
    urls = dataset.miss_urls(published)
    assert len(urls) == len(set(urls))
    assert not [u for u in urls if u.endswith("limit=20")]
    assert {dataset.post_path(p) for p in published} <= set(urls)
    assert urls == dataset.miss_urls(published)


def test_mixed_sequence_is_deterministic_with_five_percent_author_writes():
    published = list(range(1, 3001))
    authors = {p: p % 200 + 1 for p in published}
    bench: Any = SimpleNamespace(published=published, authors=authors)
    sequence = build_sequence(bench)
    assert sequence == build_sequence(bench)
    writes = [s for s in sequence if s[0] == "P"]
    assert 0.04 < len(writes) / len(sequence) < 0.06
    assert all(author in WRITERS and authors[int(path.rsplit("/", 1)[1])] == author
               for _, path, author, _ in writes)  # fmt: skip


# -- targets and report ----------------------------------------------------------------------


def _summary_entry(rps: float, ratios: dict[str, float]) -> dict[str, Any]:
    def spread(value: float) -> dict[str, float]:
        return {"median": value, "min": value, "max": value, "n": 1}

    return {
        "rps": spread(rps), "p50_ms": spread(4.0), "p99_ms": spread(9.0),
        "server_cpu_us": spread(450.0), "redis_cpu_us": spread(30.0), "wrk_cpu_us": spread(70.0),
        "other_cores": spread(0.01), "non2xx": 0, "socket_errors": 0,
        "ratios": {ref: {"rps": spread(v), "p99": spread(1.1)} for ref, v in ratios.items()},
    }  # fmt: skip


def _results() -> dict[str, Any]:
    return {
        "hit": {
            "hits_verified": {"app": "all HIT"},
            "correctness_probe": {"all_equal": True},
            "summary": {
                "app": _summary_entry(
                    3500, {"flask-caching": 1.6, "flask-constant": 0.92, "express-limiter": 0.75}
                ),
                "flask-caching": _summary_entry(2200, {"flask-constant": 0.57}),
            },
        },
        "invalidation": {
            "sizes": {
                "0": {"app": {"redis_ms": 0.3}, "recipe_scan": {"ms": 2.0}},
                "1000000": {"app": {"redis_ms": 0.4}, "recipe_scan": {"ms": 1300.0}},
            },
        },
    }


def test_targets_are_judged_met_not_met_or_not_measured():
    found = {g.target: g for g in goals.evaluate(_results())}
    assert found["hit req/s >= 1.5x Flask-Caching"].met is True
    assert found["hit req/s >= 0.9x constant-body Flask route"].met is True
    assert found["hit req/s vs Express recipe, both rate-limited (aim >= 1.0)"].met is False
    assert found["hit req/s vs Express recipe, neither rate-limited (aim >= 1.0)"].met is None
    assert found["invalidate tag `posts`: flat in key count, <= 1 ms at 1M keys"].met is True
    assert found["miss req/s >= 0.9x the same app with caching off"].met is None


def test_report_renders_every_target_and_the_hit_table():
    doc = {
        "meta": {
            "command": "python -m bench --quick",
            "plan": {"quick": True},
            "elapsed_s": 90.0,
            "machine": {
                "date": "2026-11-26 12:00:00Z",
                "nproc": 2,
                "cpu_model": "Xeon",
                "kernel": "6.1",
                "memory_gib": 24,
                "versions": {},
            },
        },
        "targets": {"app": "this app"},
        "results": _results(),
        "goals": [g.as_dict() for g in goals.evaluate(_results())],
        "notes": ["something to say"],
    }
    text = report.render_markdown(doc)
    assert "python -m bench --quick" in text and "2 cores, Xeon" in text
    assert "| hit | hit req/s >= 1.5x Flask-Caching | 1.60x | met |" in text
    assert "| app | 3,500 | 0.92 | 1.60 | 0.75 |" in text
    assert "| 1,000,000 | 0.40 |" in text
    assert "- something to say" in text
    assert report.chart_values(doc) == [("app", 0.92), ("flask-caching", 0.57)]


def test_fallback_png_is_a_valid_rgb_image(tmp_path):
    path = tmp_path / "chart.png"
    png.bar_chart(path, [0.5, 1.2, 0.95])
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    raw = zlib.decompress(data[idat + 4 : idat + 4 + length])
    assert len(raw) == height * (1 + 3 * width)


def _round_two_results() -> dict[str, Any]:
    app = _summary_entry(3000, {"express-limiter": 0.8, "express-limiter-2": 0.7})
    gthread = _summary_entry(3300, {"app": 1.1, "express-limiter": 0.88, "express-limiter-2": 0.77})
    noisy = _summary_entry(900, {})
    noisy["socket_errors"] = 3
    return {
        "workers": {
            "fastest": workers.fastest({"app": app, "app-gthread": gthread}),
            "keep_alive": {"app": False, "app-gthread": True},
            "summary": {"app": app, "app-gthread": gthread},
        },
        "scaling": {
            "levels": {
                "1": {"app": _summary_entry(1300, {}), "express-limiter": _summary_entry(1500, {})},
                "256": {"app": noisy, "express-limiter": _summary_entry(4000, {})},
            }
        },
    }


def test_the_fastest_worker_model_is_judged_against_one_and_two_node_processes():
    results = _round_two_results()
    assert results["workers"]["fastest"] == "app-gthread"
    found = {g.target: g for g in goals.evaluate(results)}
    one = found["fastest worker model (`app-gthread`) vs Express recipe with limiter, "
                "1 Node process (aim >= 1.0)"]  # fmt: skip
    assert (one.measured, one.met) == ("0.88x", False)
    assert found["no errors at 256 connections (app targets)"].met is False
    assert found["miss req/s >= 0.85x the cache-off app (issue 17)"].met is None


def test_report_renders_the_worker_models_and_the_scaling_curve():
    doc = {"meta": {"machine": {"date": "2026-12-03"}}, "results": _round_two_results()}
    text = "\n".join(report._workers_section(doc) + report._scaling_section(doc))
    assert "Fastest app model: `app-gthread`" in text
    assert "| app-gthread | 3,300 | 1.10 | 0.88 | 0.77 |" in text and "keep-alive |" in text
    assert "| app | 1,300 | 9.0 | 900 | 9.0 |" in text
    assert "{'256': {'app': 3}}" in text
