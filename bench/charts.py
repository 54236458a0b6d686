"""The report's two pictures, drawn with matplotlib (``png.bar_chart`` when it is missing).

Contract: ``write_chart(doc, values, path)`` draws the hit path's bars (``values``: target and
its ratio to the constant-body route under the same limiter, from ``report.chart_values``) and
returns what drew them; ``write_scaling_chart(doc, path)`` draws hits/s and p99 by concurrency
and returns the file's name, or None without matplotlib or scaling data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import png
from bench.goals import dig


def write_chart(doc: dict[str, Any], values: list[tuple[str, float]], path: Path) -> str:
    """Bars of ``values`` (``report.chart_values``); says what drew them."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        png.bar_chart(path, [v for _, v in values])
        return "png.bar_chart (no matplotlib): bars in the order " + ", ".join(n for n, _ in values)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    colours = ["#2e8b57" if v >= 0.9 else "#e67e22" for _, v in values]
    ax.bar([n for n, _ in values], [v for _, v in values], color=colours)
    ax.axhline(1.0, color="grey", linewidth=1)
    ax.axhline(0.9, color="grey", linewidth=1, linestyle="--")
    ax.set_ylabel("hit req/s ÷ constant-body Flask route (same limiter)")
    ax.set_title(f"Hit path, median of per-round ratios ({doc['meta']['machine']['date']})")
    for i, (_, v) in enumerate(values):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=25, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return "matplotlib"


def write_scaling_chart(doc: dict[str, Any], path: Path) -> str | None:
    """Hits/s by concurrency, one line per target (matplotlib only; None without it or data)."""
    levels = dig(doc, "results", "scaling", "levels")
    if not levels:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (rps_ax, p99_ax) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [int(c) for c in levels]
    for target in next(iter(levels.values())):
        rps = [dig(levels, c, target, "rps", "median") for c in levels]
        p99 = [dig(levels, c, target, "p99_ms", "median") for c in levels]
        rps_ax.plot(xs, rps, marker="o", label=target)
        p99_ax.plot(xs, p99, marker="o", label=target)
    for ax, label in ((rps_ax, "hits/s (median)"), (p99_ax, "p99 ms (median)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel(label)
    p99_ax.set_yscale("log")
    rps_ax.legend(fontsize=7)
    fig.suptitle(f"Hit path by concurrency ({doc['meta']['machine']['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name
