"""Hit latency at the server: ``Server-Timing`` read by a sequential client (issue 7, c=1).

Contract:
- ``duration_of(header)``: the total ``dur`` (ms) of a W3C ``Server-Timing`` header value, or
  None when it has none (pure).
- ``sample(port, paths, kind, max_requests, max_seconds)``: one client on 127.0.0.1, one request
  at a time (c=1), GETs ``paths`` round robin from the first (as ``rotate.lua``), at most
  ``max_requests`` requests or ``max_seconds`` seconds, whichever ends first. One
  ``http.client`` connection object: kept alive when the server allows it, reopened when it
  closes (gunicorn's sync workers close after every response). Each answer must be a 200 HIT
  (``probe.cache_state``); only HITs' durations count. A target whose first answer has no
  ``Server-Timing`` is left after that one request (``Sample.sent_header`` False).
- ``round_figures(sample)`` and ``summarise(per_round)`` (pure): per round the median, p90, p99
  and max of the server-side durations plus the client's own round-trip median; over rounds the
  median (min-max) of the per-round medians and p99s, as ``stats.Spread`` dicts.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import probe, stats

HEADER = "server-timing"


def duration_of(header: str | None) -> float | None:
    """Sum of every metric's ``dur`` in ``app;dur=0.1, db;dur=0.2`` (ms); None without any."""
    if not header:
        return None
    total = 0.0
    seen = False
    for metric in header.split(","):
        for param in metric.split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() != "dur":
                continue
            try:
                total += float(value.strip().strip('"'))
            except ValueError:
                continue
            seen = True
    return total if seen else None


@dataclass
class Sample:
    requests: int = 0
    sent_header: bool = True
    server_ms: list[float] = field(default_factory=list)  # HIT answers with a duration
    client_ms: list[float] = field(default_factory=list)  # every answer, as this client saw it
    not_hit: int = 0  # answers that were not a 200 HIT
    missing: int = 0  # answers without a Server-Timing duration
    errors: int = 0
    first_problem: str | None = None

    def problem(self, text: str) -> None:
        if self.first_problem is None:
            self.first_problem = text


def sample(
    port: int,
    paths: Sequence[str],
    kind: str,
    max_requests: int = 2000,
    max_seconds: float = 4.0,
) -> Sample:
    found = Sample()
    if not paths:
        return found
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
    deadline = time.perf_counter() + max_seconds
    try:
        for i in range(max_requests):
            if time.perf_counter() >= deadline:
                break
            path = paths[i % len(paths)]
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                found.errors += 1
                found.problem(f"{path}: {exc.__class__.__name__}: {exc}")
                continue
            found.client_ms.append((time.perf_counter() - started) * 1000.0)
            found.requests += 1
            headers = {name.lower(): value for name, value in response.getheaders()}
            duration = duration_of(headers.get(HEADER))
            if duration is None and i == 0:
                found.sent_header = False
                found.missing = 1
                break
            state = probe.cache_state(probe.Reply(response.status, headers, b"", 0.0), kind)
            if response.status != 200 or state != "HIT":
                found.not_hit += 1
                found.problem(f"{path}: status {response.status}, cache {state}")
                continue
            if duration is None:
                found.missing += 1
                found.problem(f"{path}: no Server-Timing")
                continue
            found.server_ms.append(duration)
    finally:
        conn.close()
    return found


def round_figures(found: Sample) -> dict[str, Any] | None:
    """One round's figures (ms), or None when the target sends no ``Server-Timing``."""
    if not found.sent_header:
        return None
    server = found.server_ms
    return {
        "requests": found.requests,
        "hits_timed": len(server),
        "not_hit": found.not_hit,
        "missing": found.missing,
        "errors": found.errors,
        "first_problem": found.first_problem,
        "median_ms": statistics.median(server) if server else None,
        "p90_ms": stats.percentile(server, 90),
        "p99_ms": stats.percentile(server, 99),
        "max_ms": max(server) if server else None,
        "client_median_ms": statistics.median(found.client_ms) if found.client_ms else None,
    }


def summarise(per_round: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Over the rounds of one target: None when no round had a ``Server-Timing``."""
    rounds = [r for r in per_round if r is not None]
    if not rounds:
        return None

    def spread_of(figure: str) -> dict[str, float | int] | None:
        found = stats.spread(r[figure] for r in rounds)
        return found.as_dict() if found else None

    return {
        "median_ms": spread_of("median_ms"),
        "p99_ms": spread_of("p99_ms"),
        "client_median_ms": spread_of("client_median_ms"),
        "requests": sum(r["requests"] for r in rounds),
        "hits_timed": sum(r["hits_timed"] for r in rounds),
        "not_hit": sum(r["not_hit"] + r["errors"] for r in rounds),
        "missing": sum(r["missing"] for r in rounds),
        "rounds": list(rounds),
    }
