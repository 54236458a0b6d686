"""``python -m bench [--quick] [--only hit,miss] [--rounds N] [--duration S]``.

Full run (``make bench``): about 21 minutes; ``--quick`` (``make bench-quick``): a few.
Writes ``bench/results/latest.{json,md,png}``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from bench.orchestrate import run_benchmark
from bench.plan import WORKLOADS, make_plan


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (a few minutes)")
    parser.add_argument(
        "--only", help=f"comma-separated workloads to run, from: {', '.join(WORKLOADS)}"
    )
    parser.add_argument("--rounds", type=int, help="measured rounds (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per hit run (default 5, quick 2)")
    args = parser.parse_args(argv)
    if args.only:
        unknown = set(args.only.split(",")) - set(WORKLOADS)
        if unknown:
            parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    only = args.only.split(",") if args.only else None
    plan = make_plan(args.quick, only, args.rounds, args.duration)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    return run_benchmark(plan, command.strip())


if __name__ == "__main__":
    sys.exit(main())
