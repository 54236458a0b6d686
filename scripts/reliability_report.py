"""Render docs/reliability.md from the results the reliability suites recorded.

Usage (``make reliability`` runs both steps)::

    pytest -p tests.faults.recorder --reliability-json test-artifacts/reliability.json \\
        tests/faults tests/attacks tests/fuzz <the in-process suites>
    python scripts/reliability_report.py test-artifacts/reliability.json docs/reliability.md

Contract: the input is the JSON ``tests/faults/recorder.py`` writes (every test's
outcome, duration and, for the cases that measure, a record: group, case, fault,
behaviour, catalogue rows, figures). The output is Markdown: the verdict (5xx
caused by Redis, stale reads, cross-user leaks, failed cases), the definitions of
each figure, one table per group of measured cases, the in-process suites the
report also collects (per file, with their catalogue rows), and every expected
failure with its reason. Nothing is measured here; a missing figure shows as
"-". Exit status 1 when the input records a failed case, so a red run cannot
produce a green-looking report silently.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# Files the report collects besides the measured suites, with the rows of the
# checklist (shared/design/research/reliability-anchors.md, section 9) they cover.
COLLECTED = {
    "tests/response_cache/test_poisoning.py": "32-36: unkeyed headers, fat GET, cloaking, "
    "deception, errors never stored",
    "tests/response_cache/test_scopes.py": "39: per-user entries, logout",
    "middleware/response_cache/tests/test_keys.py": "28, 31, 35: key normalisation and injection",
    "tests/response_cache/test_failure.py": "2-3: Redis killed/hung in-process",
    "tests/response_cache/test_rate_limit_hits.py": "42: cache hits are rate-limited",
    "tests/response_cache/test_toggles.py": "43: runtime toggles",
    "tests/response_cache/test_stampede.py": "55: stampede control",
    "tests/test_rate_limits.py": "8-10, 49: limits during outages, per-account throttle",
    "tests/test_client_address.py": "50-51: X-Forwarded-For, IPv6 /64",
    "tests/test_sessions.py": "44-47: fixation, logout, timeouts, garbage cookies",
    "tests/test_sessions_redis_down.py": "4-7, 15: Redis-only sessions while Redis is down",
    "tests/test_sessions_survive_redis.py": "4-7, 15: default sessions ride out an outage",
    "middleware/response_cache/tests/test_redis_outage.py": "2-3: the package alone, Redis out",
    "middleware/response_cache/tests/test_write_during_outage.py": "18-19: a write's lease "
    "wait, dead vs hung Redis",
    "tests/test_csrf.py": "52: CSRF",
    "tests/blueprints/test_errors.py": "23-27: malformed input, 405/413/415",
    "tests/cache_core/test_trust_and_invalidation.py": "16, 18, 54: restarts, lost "
    "invalidations, the stale-set race",
    "tests/cache_core/test_posts_invalidation.py": "18-19: writes during outages",
    "tests/cache_core/test_stateful_freshness.py": "54 + outages: Hypothesis state machine",
}

GROUPS = [
    ("fault", "Redis faults (two gunicorn workers, one real redis-server)"),
    ("database", "The database unreachable (Redis healthy)"),
    ("scale-out", "Two instances, one Redis, one database"),
    ("cluster", "Redis Cluster and Sentinel"),
    ("fuzz", "Fuzzing from /openapi.json (schemathesis)"),
    ("attack", "Attacks through a real gunicorn"),
]

DEFINITIONS = """\
- **5xx caused by Redis**: a 5xx answer to a request whose correct answer does not
  depend on Redis: any public read (with or without a session cookie), any login,
  logout or write of a user whose session is durable in SQL (the default `cached`
  store, or `sql`), `/health`. Not counted, because they are the designed answer
  (D11, `SESSION_BACKEND=redis` only): a **503 with `Retry-After` and the JSON error
  shape** to a request that needs the logged-in user while a Redis-only session store
  cannot be read; these are listed as `by_design_503`. 5xx caused by the *database*
  being down are reported in their own table.
- **first request per worker**: the first request each gunicorn worker served after
  the fault began (workers identified from gunicorn's access log, which records a
  probe id sent with every request); it may pay one short timeout (0.25 s).
- **extra latency**: every other request of the fault window minus the median of the
  healthy baseline (same client, same paths); p50 / p95 / max. While a worker's
  breaker is open its probe runs in a background thread, so no request waits on it.
- **stale read**: a read *sent after* a write was acknowledged that returns the
  version before it (the post and the list page holding it are both checked).
- **recovery**: seconds from the end of the fault to the first of 10 consecutive
  cache hits (each worker's prober PINGs every 0.25 s while its breaker is open);
  `first_hit_per_worker_s` gives the first hit of each worker separately.
"""


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value + 0.0:g}"  # + 0.0: no "-0"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def cell(text: Any) -> str:
    return fmt(text).replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def outcome_mark(result: dict[str, Any]) -> str:
    return {
        "passed": "pass",
        "failed": "**FAIL**",
        "error": "**ERROR**",
        "xfailed": "expected failure",
        "xpassed": "pass (was expected to fail)",
        "skipped": "skipped",
    }.get(result["outcome"], result["outcome"])


def _latency(figures: dict[str, Any]) -> str:
    if "extra_p50_ms" not in figures:
        return "-"
    return f"{fmt(figures.get('extra_p50_ms'))} / {fmt(figures.get('extra_p95_ms'))}"


def _first(figures: dict[str, Any]) -> Any:
    return figures.get("first_request_max_ms")


def fault_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for result in results:
        record, figures = result["record"], result["record"]["figures"]
        rows.append(
            [
                record["case"],
                record["fault"],
                record["behaviour"],
                figures.get("requests"),
                figures.get("redis_5xx"),
                _first(figures),
                _latency(figures),
                figures.get("stale_reads"),
                figures.get("recovery_s"),
                outcome_mark(result),
            ]
        )
    return rows


FAULT_HEADERS = [
    "case",
    "fault",
    "what the system did",
    "reads",
    "5xx (Redis)",
    "first request / worker, max ms",
    "extra ms p50 / p95",
    "stale reads",
    "recovery s",
    "result",
]


def generic_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for result in results:
        record = result["record"]
        figures = {
            key: value
            for key, value in record["figures"].items()
            if key not in ("x_cache_during", "write_ms")
        }
        rows.append(
            [record["case"], record["fault"], record["behaviour"], figures, outcome_mark(result)]
        )
    return rows


def totals(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result["outcome"]] += 1
    return dict(counts)


def figure_sum(results: Iterable[dict[str, Any]], *names: str) -> int:
    total = 0
    for result in results:
        figures = result.get("record", {}).get("figures", {})
        for name in names:
            value = figures.get(name)
            if isinstance(value, int | float):
                total += int(value)
    return total


def collected_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        by_file[result["nodeid"].split("::", 1)[0]].append(result)
    rows = []
    for path, rows_covered in COLLECTED.items():
        found = by_file.get(path, [])
        if not found:
            continue
        passed = sum(r["outcome"] in ("passed", "xfailed") for r in found)
        failed = [
            r["nodeid"].split("::", 1)[1] for r in found if r["outcome"] in ("failed", "error")
        ]
        rows.append([f"`{path}`", rows_covered, f"{passed}/{len(found)}", failed or "-"])
    return rows


def render(document: dict[str, Any]) -> str:
    results: list[dict[str, Any]] = document["results"]
    recorded = [r for r in results if "record" in r]
    count = totals(results)
    failed = [r for r in results if r["outcome"] in ("failed", "error")]
    leaks = figure_sum(recorded, "foreign_posts_seen", "leaked")
    scope_tests = [r for r in results if "test_scopes.py" in r["nodeid"]]
    scope_failed = sum(r["outcome"] in ("failed", "error") for r in scope_tests)
    lines = [
        "# Reliability report",
        "",
        "<!-- Generated by `make reliability` (scripts/reliability_report.py); do not edit. -->",
        "",
        f"Generated {document['generated_at']} on {document['machine']}, Python "
        f"{document['python']}, {document['redis']}; PostgreSQL cases "
        f"{'included' if document.get('postgres') else 'not run (TEST_DATABASE_URL unset)'}. "
        f"{len(results)} tests in {document['wall_seconds']} s: "
        + ", ".join(f"{n} {outcome}" for outcome, n in sorted(count.items()))
        + ".",
        "",
        "## Verdict",
        "",
        f"- **5xx caused by Redis: {figure_sum(recorded, 'redis_5xx')}** across "
        f"{figure_sum(recorded, 'requests')} measured requests "
        f"({figure_sum(recorded, 'by_design_503')} by-design 503s from the session store, "
        "see the definitions).",
        f"- **Stale reads after an acknowledged write: {figure_sum(recorded, 'stale_reads')}**.",
        f"- **Cross-user leaks: {leaks + scope_failed}** (per-user entries and deception "
        f"paths through gunicorn, plus {len(scope_tests)} in-process scope tests).",
        f"- **Failed cases: {len(failed)}**"
        + (": " + ", ".join(f"`{r['nodeid']}`" for r in failed) if failed else "."),
        "",
        "## Definitions",
        "",
        DEFINITIONS,
    ]
    for group, title in GROUPS:
        members = [r for r in recorded if r["record"]["group"] == group]
        if not members:
            continue
        lines += [f"## {title}", ""]
        if group == "fault":
            lines += table(FAULT_HEADERS, fault_rows(members))
        else:
            headers = ["case", "fault or input", "what the system did", "figures", "result"]
            lines += table(headers, generic_rows(members))
        lines.append("")
    collected = collected_rows(results)
    if collected:
        lines += [
            "## In-process suites collected by the report",
            "",
            "These run on the Flask test client against real Redis and databases; the "
            "report counts their outcomes (rows of the checklist in "
            "`shared/design/research/reliability-anchors.md`, section 9).",
            "",
        ]
        lines += table(["file", "checklist rows", "passed", "failed"], collected)
        lines.append("")
    expected = [r for r in results if r["outcome"] in ("xfailed", "xpassed", "skipped")]
    if expected:
        lines += ["## Expected failures and skips", ""]
        lines += [f"- `{r['nodeid']}` ({r['outcome']}): {r.get('reason', '')}" for r in expected]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3:
        print("usage: reliability_report.py RESULTS.json OUTPUT.md", file=sys.stderr)
        return 2
    document = json.loads(Path(argv[1]).read_text())
    Path(argv[2]).write_text(render(document))
    failed = [r for r in document["results"] if r["outcome"] in ("failed", "error")]
    print(f"wrote {argv[2]}: {len(document['results'])} tests, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
