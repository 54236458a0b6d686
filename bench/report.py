"""Write ``latest.json``, ``latest.md`` and ``latest.png`` from the results document.

Contract: ``write_reports(doc, out_dir)`` writes the three files; ``render_markdown(doc)`` is
pure (the unit tests call it). The Markdown opens with date, machine and command, then the
targets of issue 7 marked met / not met, then one table per workload: medians with min-max,
every ratio the median of per-round ratios, CPU per request and "other load" (plus the hit
latency at the server, from ``Server-Timing``, beside wrk's client-side figure). The chart
(``chart_values`` here; ``charts.py`` draws it) shows hit throughput as a share of the
constant-body Flask route under the same limiter setting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import charts
from bench.goals import dig

_LIMITED = ("flask-constant", "flask-caching", "express-limiter", "app-nocache")
_UNLIMITED = ("flask-constant-nolimit", "flask-caching-nolimit", "express", "app-nocache")
# The peers each hit-path row is compared with: the same limiter setting as the row.
SAME_LIMITER = {
    **dict.fromkeys(
        ("app", "flask-caching", "flask-constant", "express-limiter", "app-nocache"), _LIMITED
    ),
    **dict.fromkeys(
        ("app-nolimit", "flask-caching-nolimit", "flask-constant-nolimit", "express"), _UNLIMITED
    ),
}
HIT_COLUMNS = ("÷ constant route", "÷ Flask-Caching", "÷ Express recipe", "÷ app-nocache")
MARK = {True: "met", False: "**not met**", None: "n/a"}


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _spread(entry: dict[str, Any] | None, digits: int = 0) -> str:
    if not entry:
        return "n/a"
    if entry["n"] == 1:
        return _num(entry["median"], digits)
    low, high = _num(entry["min"], digits), _num(entry["max"], digits)
    return f"{_num(entry['median'], digits)} ({low}-{high})"


def _ratio(summary: dict[str, Any], target: str, ref: str, figure: str = "rps") -> str:
    if target == ref:
        return "1.00"
    value = dig(summary, target, "ratios", ref, figure)
    return _spread(value, 2) if value else "n/a"


def _load_table(summary: dict[str, Any], refs_for: Any, extra: dict[str, str] | None = None,
                columns: tuple[str, ...] | None = None) -> list[str]:  # fmt: skip
    """One row per target: req/s, ratios, latency, CPU per request, other load."""
    targets = list(summary)
    sample_refs = refs_for(targets[0]) if targets else ()
    head = ["target", "req/s median (min-max)", *(columns or [f"÷ {r}" for r in sample_refs]),
            "p50 ms", "p99 ms", "server CPU µs/req", "redis µs/req", "wrk µs/req",
            "other load (cores)", "non-2xx", *(["check"] if extra else [])]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for target in targets:
        s = summary[target]
        refs = refs_for(target)
        cells = [
            target, _spread(s["rps"]), *[_ratio(summary, target, r) for r in refs],
            _spread(s["p50_ms"], 2), _spread(s["p99_ms"], 2), _spread(s["server_cpu_us"]),
            _spread(s["redis_cpu_us"]), _spread(s["wrk_cpu_us"]), _spread(s["other_cores"], 2),
            str(s["non2xx"] + s["socket_errors"]),
        ]  # fmt: skip
        if extra:
            cells.append(extra.get(target, ""))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _hit_section(doc: dict[str, Any]) -> list[str]:
    hit = doc["results"].get("hit")
    if not hit or "summary" not in hit:
        return []
    summary = hit["summary"]
    lines = [
        "## Hit path (wrk -t1 -c16, hot URLs)",
        "",
        "Ratio columns compare each row with the peers under the same limiter setting: rows "
        "with the limiter against `flask-constant`, `flask-caching`, `express-limiter`; rows "
        "without it against `flask-constant-nolimit`, `flask-caching-nolimit`, `express`. "
        "Every ratio is the median of per-round ratios.",
        "",
    ]
    checks = hit.get("check_cells", hit["hits_verified"])
    lines += _load_table(summary, lambda t: SAME_LIMITER.get(t, _LIMITED), checks, HIT_COLUMNS)
    probe_ok = dig(hit, "correctness_probe", "all_equal")
    lines += ["", f"Correctness probe (same JSON from every peer): "
              f"{'equal' if probe_ok else 'DIFFERENT: see latest.json'}.", ""]  # fmt: skip
    return lines


def _single_section(doc: dict[str, Any]) -> list[str]:
    single = doc["results"].get("hit-single")
    if not single or "summary" not in single:
        return []
    lines = [f"## Hit path, one URL (wrk -t1 -c16, `{single.get('url')}` only)", "",
             "The figure a one-URL test reports; the table above (the URL mix) is what clients "
             "see. Ratios as above.", ""]  # fmt: skip
    checks = single.get("check_cells", single.get("hits_verified"))
    lines += _load_table(
        single["summary"], lambda t: SAME_LIMITER.get(t, _LIMITED), checks, HIT_COLUMNS
    )
    return [*lines, ""]


def _workers_section(doc: dict[str, Any]) -> list[str]:
    workers = doc["results"].get("workers")
    if not workers or "summary" not in workers:
        return []
    alive = workers.get("keep_alive", {})
    lines = [
        "## Worker models (wrk -t1 -c16, URL mix, limiter on everywhere)",
        "",
        "2 gunicorn workers per app row; `express-limiter` is 1 Node process (like for like on "
        "2 cores), `express-limiter-2` 2 (node:cluster). `check`: whether the server keeps "
        f"the connection alive. Fastest app model: `{workers.get('fastest')}`.",
        "",
    ]
    refs = ("app", "express-limiter", "express-limiter-2")
    checks = {t: "keep-alive" if kept else "closes" for t, kept in alive.items()}
    lines += _load_table(workers["summary"], lambda t: refs, checks)
    return [*lines, ""]


def _scaling_section(doc: dict[str, Any]) -> list[str]:
    levels = dig(doc, "results", "scaling", "levels")
    if not levels:
        return []
    targets = list(next(iter(levels.values())))
    lines = [
        "## Scaling (hits/s and p99 by concurrency, URL mix; `latest-scaling.png`)",
        "",
        "| target | " + " | ".join(f"c={c} req/s | c={c} p99 ms" for c in levels) + " |",
        "|---|" + "---|---|" * len(levels),
    ]
    for target in targets:
        cells = [target]
        for summary in levels.values():
            entry = summary.get(target) or {}
            cells += [_spread(entry.get("rps")), _spread(entry.get("p99_ms"), 1)]
        lines.append("| " + " | ".join(cells) + " |")
    bad = {}
    for level, summary in levels.items():
        errors = {t: e["non2xx"] + e["socket_errors"] for t, e in summary.items()}
        if any(errors.values()):
            bad[level] = {t: n for t, n in errors.items() if n}
    lines += ["", f"Errors (non-2xx + socket): {bad or 'none at any level'}.", ""]
    return lines


def _factors_section(doc: dict[str, Any]) -> list[str]:
    factors = dig(doc, "results", "factors", "factors")
    if not factors:
        return []
    targets = doc.get("targets", {})
    lines = [
        "## What each setting costs a hit (`make run` and one-setting variants)",
        "",
        "Every row is started by `make run`; `app` is it as shipped, each other row changes "
        "one setting. `÷ app` is the median of per-round req/s ratios (below 1.00: the "
        "setting costs hits/s).",
        "",
        "| target | what differs | URL mix req/s | ÷ app | CPU µs/req | one URL req/s | ÷ app "
        "| CPU µs/req |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in factors:
        cells = [row["target"], targets.get(row["target"], "")]
        for urls in ("mixed", "single"):
            entry = row.get(urls) or {}
            cells += [_num(entry.get("rps")), _num(entry.get("vs_app"), 2),
                      _num(entry.get("server_cpu_us"))]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _simple_section(title: str, summary: dict[str, Any] | None, refs: tuple[str, ...]
                    ) -> list[str]:  # fmt: skip
    if not summary:
        return []
    present = tuple(r for r in refs if r in summary)
    return [f"## {title}", "", *_load_table(summary, lambda t: present), ""]


def _server_timing_section(doc: dict[str, Any]) -> list[str]:
    timed = dig(doc, "results", "latency", "server_timing")
    if not timed:
        return []
    summary = dig(doc, "results", "latency", "summary") or {}
    bounds = dig(doc, "results", "latency", "server_timing_bounds") or {}
    limit = (f"at most {bounds['requests']:,} requests or {bounds['seconds']:g} s"
             if bounds else "bounded")  # fmt: skip
    lines = [
        "## Hit latency at the server (`Server-Timing`, c=1)",
        "",
        "After each wrk `-c1` run, in the same round, one sequential client walks the same URL "
        f"mix ({limit} per target and round) and reads `Server-Timing: app;dur=` from every "
        "answer, which must be a HIT: the time from entering the app's outermost WSGI layer to "
        "its response headers (gunicorn's parsing and socket writes excluded). Medians and p99s "
        "are per round, then the median (min-max) over rounds.",
        "",
        "| target | timed HITs | other answers | server median ms | server p99 ms | "
        "this client's round trip median ms | wrk p50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for target, entry in timed.items():
        wrk_p50 = _spread(dig(summary, target, "p50_ms"), 3)
        if entry is None:
            lines.append(f"| {target} | no `Server-Timing` | | | | | {wrk_p50} |")
            continue
        lines.append(
            f"| {target} | {entry['hits_timed']:,} | {entry['not_hit'] + entry['missing']} | "
            f"{_spread(entry['median_ms'], 3)} | {_spread(entry['p99_ms'], 3)} | "
            f"{_spread(entry['client_median_ms'], 3)} | {wrk_p50} |"
        )
    return [*lines, ""]


def _stampede_section(doc: dict[str, Any]) -> list[str]:
    rounds = dig(doc, "results", "stampede", "rounds")
    if not rounds:
        return []
    lines = [
        "## Stampede (200 concurrent requests, one cold URL)",
        "",
        "| target | round | view executions (MISS answers) | states | p50 ms | p99 ms | "
        "single miss ms | p99 ÷ single miss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, runs in rounds.items():
        for r in runs:
            lines.append(
                f"| {target} | {r['round']} | {_num(r['view_executions'])} | {r['states']} | "
                f"{_num(r['p50_ms'], 1)} | {_num(r['p99_ms'], 1)} | "
                f"{_num(r['single_miss_ms'], 1)} | {_num(r['p99_over_single_miss'], 1)} |"
            )
    counted = dig(doc, "results", "stampede", "app_list_misses_in_bursts")
    if counted is not None:
        lines += ["", f"App's own counters (`flask cache stats`): {counted} list-route misses "
                  "during all bursts together."]  # fmt: skip
    return [*lines, ""]


def _invalidation_section(doc: dict[str, Any]) -> list[str]:
    sizes = dig(doc, "results", "invalidation", "sizes")
    if not sizes:
        return []
    lines = ["## Invalidation (500 list entries of 15 KB among N unrelated keys)", "",
             "| unrelated keys | app: tag `posts`, Redis side ms | app: durable (journal + "
             "Redis) ms | recipe: SCAN MATCH posts:list:* COUNT 100 + DEL ms |",
             "|---|---|---|---|"]  # fmt: skip
    for size, entry in sizes.items():
        app = entry.get("app") or {}
        lines.append(
            f"| {int(size):,} | {_num(app.get('redis_ms'), 2)} | "
            f"{_num(app.get('durable_ms'), 2)} | {_num(entry['recipe_scan']['ms'], 1)} |"
        )
    return [*lines, ""]


def _sessions_section(doc: dict[str, Any]) -> list[str]:
    cases = dig(doc, "results", "sessions")
    if not cases or "skipped" in cases:
        return []
    names = {
        "cached_redis_up": "`cached` (default), Redis up",
        "cached_redis_down": "`cached`, Redis killed",
        "sql": "`sql` (reference)",
    }
    lines = [
        "## Sessions (signed-in `GET /auth/me`, in process)",
        "",
        "| store | SQL statements on `sessions` per read | median ms |",
        "|---|---|---|",
    ]
    for case, label in names.items():
        entry = cases.get(case) or {}
        lines.append(
            f"| {label} | {_num(entry.get('session_queries_per_read'), 3)} | "
            f"{_num(entry.get('median_ms'), 3)} |"
        )
    return [*lines, ""]


def _mixed_section(doc: dict[str, Any]) -> list[str]:
    mixed = dig(doc, "results", "mixed")
    if not mixed or "summary" not in mixed:
        return []
    lines = _simple_section(
        "Mixed (Zipf reads, 5% authenticated writes, stale-read checker)",
        mixed["summary"], ("flask-caching",),
    )  # fmt: skip
    return [*lines, f"Stale reads seen by the checker: {mixed['stale_reads']}.", ""]


def _memory_section(doc: dict[str, Any]) -> list[str]:
    memory = dig(doc, "results", "memory")
    if not memory:
        return []
    lines = ["## Memory (`MEMORY USAGE` of what one cold GET stored)", "",
             "| target | stored / sampled | response entry ÷ body | other entries ÷ body | "
             "all new keys ÷ body | within 1.2x body + 256 B |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for target, m in memory.items():
        if target == "app_compression":
            continue
        lines.append(
            f"| {target} | {m['stored']}/{len(m['samples'])} | {_num(m['entry_over_body'], 2)} "
            f"| {_num(m.get('other_entries_over_body'), 2)} "
            f"| {_num(m['all_keys_over_body'], 2)} | {m['within_bound']} |"
        )
    compression = memory.get("app_compression")
    if compression:
        lines += [
            "",
            f"App, list page with `Accept-Encoding: gzip`: Content-Encoding "
            f"`{compression['content_encoding']}`, {compression['bytes_on_wire']:,} bytes.",
        ]
    return [*lines, ""]


def render_markdown(doc: dict[str, Any]) -> str:
    meta, machine = doc["meta"], doc["meta"]["machine"]
    lines = [
        "# Benchmark: the response cache against its peers", "",
        f"- date: {machine['date']}", f"- command: `{meta['command']}`",
        f"- machine: {machine['nproc']} cores, {machine['cpu_model']}, kernel "
        f"{machine['kernel']}, {machine['memory_gib']} GiB",
        f"- plan: {meta['plan']}", f"- versions: {machine['versions']}",
        f"- wall time: {meta['elapsed_s']:.0f} s", "",
        "Only ratios within this run mean anything; absolute req/s move with the machine's load "
        "(see the \"other load\" column: more than ~0.2 cores means rerun).", "",
        "## Targets (issues 7 and 17)", "",
        "| workload | target | measured | verdict |", "|---|---|---|---|",
    ]  # fmt: skip
    for goal in doc["goals"]:
        lines.append(
            f"| {goal['workload']} | {goal['target']} | {goal['measured']} | {MARK[goal['met']]} |"
        )
    lines.append("")
    results = doc["results"]
    lines += _hit_section(doc) + _single_section(doc) + _factors_section(doc)
    lines += _workers_section(doc) + _scaling_section(doc)
    lines += _simple_section(
        "Hit latency (wrk -t1 -c1)",
        dig(results, "latency", "summary"),
        ("flask-constant", "flask-caching", "express-limiter", "express"),
    )
    lines += _server_timing_section(doc)
    lines += _simple_section(
        "Miss path (every request a miss)",
        dig(results, "miss", "summary"),
        ("app-nocache", "express", "express-nocache"),
    )
    lists = dig(results, "miss", "uncached_list", "summary")
    lines += _simple_section(
        "Uncached list pages", lists, ("express-nocache-limiter", "express-nocache")
    )
    lines += _stampede_section(doc) + _invalidation_section(doc) + _sessions_section(doc)
    lines += _simple_section(
        "Redis down (breaker open)", dig(results, "redis-down", "summary"), ("app-nocache",)
    )
    lines += _mixed_section(doc) + _memory_section(doc)
    targets = doc.get("targets", {})
    lines += ["## Targets compared", "", *[f"- `{k}`: {v}" for k, v in targets.items()], ""]
    if doc.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in doc["notes"]], ""]
    return "\n".join(lines)


def chart_values(doc: dict[str, Any]) -> list[tuple[str, float]]:
    summary = dig(doc, "results", "hit", "summary") or {}
    values = []
    for target in summary:
        ref = SAME_LIMITER.get(target, ("flask-constant",))[0]
        ratio = 1.0 if target == ref else dig(summary, target, "ratios", ref, "rps", "median")
        if ratio is not None:
            values.append((target, float(ratio)))
    return values


def write_reports(doc: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc["meta"]["chart"] = charts.write_chart(doc, chart_values(doc), out_dir / "latest.png")
    doc["meta"]["scaling_chart"] = charts.write_scaling_chart(doc, out_dir / "latest-scaling.png")
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out_dir / "latest.md").write_text(render_markdown(doc) + "\n")
