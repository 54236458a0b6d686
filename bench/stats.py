"""Pure figures: medians, spreads and per-round ratios (no I/O).

Contract: every ratio the report quotes is the *median of per-round ratios* (``round_ratio``):
two runs of the same round are paired, so slow drift of the machine cancels out. Empty or
non-positive inputs give ``None`` rather than raising, so a missing peer shows as "n/a".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Spread:
    """Median with min and max of one figure over the measured rounds."""

    median: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n}


def spread(values: Iterable[float | None]) -> Spread | None:
    """The spread of the non-None values, or None when there are none."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return Spread(statistics.median(present), min(present), max(present), len(present))


def safe_ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def round_ratio(
    per_round: Sequence[Mapping[str, float | None]], subject: str, reference: str
) -> Spread | None:
    """Median (and min-max) of ``subject / reference`` computed inside each round.

    ``per_round`` holds one mapping per measured round: target name -> figure.
    Rounds where either side is missing are skipped.
    """
    return spread(safe_ratio(r.get(subject), r.get(reference)) for r in per_round)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def rotated(items: Sequence[str], start: int) -> list[str]:
    """``items`` starting at index ``start`` (mod len): the interleaving order of a round."""
    if not items:
        return []
    k = start % len(items)
    return [*items[k:], *items[:k]]
