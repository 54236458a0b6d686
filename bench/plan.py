"""How long and how often each workload runs: the full plan and the quick one.

Contract: ``make_plan(quick, only, rounds, duration)`` returns a frozen ``Plan``. The full plan
fits ``make bench`` in about 21 minutes on a 2-core machine (1,263 s on 2026-12-03); the quick
one in a few. ``--rounds`` and ``--duration`` override the hit-path
rounds and run length (other workloads scale from them). ``server_timing_requests`` and
``server_timing_seconds`` bound the sequential Server-Timing client of the latency workload
(per target and round, whichever ends first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

WORKLOADS = (
    "hit", "hit-single", "factors", "workers", "scaling", "latency", "miss", "stampede",
    "memory", "mixed", "invalidation", "sessions", "redis-down",
)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    quick: bool
    rounds: int
    duration: float  # seconds per measured hit run
    warmup: float  # seconds per target in the unmeasured warm-up round
    latency_duration: float
    miss_duration: float
    mixed_rounds: int
    mixed_duration: float  # seconds per mixed run (total per target = rounds x this)
    redis_down_duration: float
    server_timing_seconds: float = 4.0
    server_timing_requests: int = 2000
    invalidation_sizes: tuple[int, ...] = (0, 100_000, 1_000_000)
    invalidation_reps: int = 5
    stampede_clients: int = 200
    factor_rounds: int = 2  # the factors workload: more rounds, its ratios are a few %
    factor_duration: float = 2.0
    scaling_rounds: int = 1  # per concurrency level (1, 16, 64, 256)
    scaling_duration: float = 2.0
    postgres: bool = True
    workloads: tuple[str, ...] = field(default=WORKLOADS)

    def runs(self, workload: str) -> bool:
        return workload in self.workloads


def make_plan(
    quick: bool,
    only: Iterable[str] | None = None,
    rounds: int | None = None,
    duration: float | None = None,
) -> Plan:
    chosen = tuple(w for w in WORKLOADS if only is None or w in set(only))
    if quick:
        r = rounds or 1
        d = duration or 2.0
        return Plan(
            quick=True, rounds=r, duration=d, warmup=1.0, latency_duration=max(1.0, d - 1),
            miss_duration=max(1.0, d - 1), mixed_rounds=1, mixed_duration=15.0,
            redis_down_duration=max(1.0, d - 1), server_timing_seconds=2.0,
            invalidation_reps=1, postgres=False, workloads=chosen,
        )  # fmt: skip
    r = rounds or 3
    d = duration or 5.0
    return Plan(
        quick=False, rounds=r, duration=d, warmup=2.0, latency_duration=max(2.0, d - 2),
        miss_duration=max(2.0, d - 1), mixed_rounds=3, mixed_duration=20.0,
        redis_down_duration=max(2.0, d - 1), invalidation_reps=5, postgres=True,
        factor_rounds=max(r, 5), factor_duration=max(2.0, d - 1), scaling_rounds=2,
        scaling_duration=max(2.0, d - 2), workloads=chosen,
    )  # fmt: skip
