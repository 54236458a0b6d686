"""Drive an app a user started with ``make run`` from outside, beside the benchmark's peers.

``python -m bench.outside --app-port 8000 --redis-port 6390 [--rounds 5] [--duration 5]``

The check of issue 18: ``make bench``'s hit ratios must hold for the app as a user runs it.
Start it first, as a user would, with only the limits raised, e.g.::

    redis-server --port 6390 --save '' &
    REDIS_URL=redis://127.0.0.1:6390/0 RATELIMIT_API='100000000 per minute' \\
        RATELIMIT_AUTH='100000000 per minute' make run

This script then learns the URLs like a client does (the first 50 list pages, and 200 posts
found on them), starts Flask-Caching, the constant-body route and the Express recipe (all
with their limiter) on the same database (``--database``, default ``make run``'s
``instance/app.db``) and Redis, and drives each with wrk (c=16, the URL mix) in interleaved
rounds. It prints per round the req/s of every target and, at the end, the median of the
per-round ratios ``app / peer``, as ``make bench``'s hit table computes them. Loopback only;
every run is bounded by ``--duration``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import environment, probe, stats
from bench.load import LoadSpec, run_load
from bench.peers import PeerSet
from bench.peers.specs import Context, build_specs

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("flask-caching", "flask-constant", "express-limiter")
LIST_PAGES = 50
SINGLE_POSTS = 200


def client_urls(port: int, seed: int = 1) -> list[str]:
    """The list pages and posts a client finds by browsing the app, shuffled."""
    lists = [f"/api/v1/posts?page={page}&limit=20" for page in range(1, LIST_PAGES + 1)]
    ids: list[int] = []
    for path in lists:
        reply = probe.fetch(port, path, timeout=10.0)
        if reply.status != 200:
            raise SystemExit(f"the app answered {reply.status} to {path}: is make run up?")
        ids += [item["id"] for item in json.loads(reply.body)["data"]]
    rng = random.Random(seed)
    posts = [f"/api/v1/posts/{i}" for i in rng.sample(ids, min(SINGLE_POSTS, len(ids)))]
    urls = lists + posts
    rng.shuffle(urls)
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outside", description=__doc__)
    parser.add_argument("--app-port", type=int, default=8000)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--database", type=Path, default=ROOT / "instance" / "app.db")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    environment.ensure_python_requirements(Path(sys.executable))
    node_ok = environment.ensure_node_modules(ROOT / "bench" / "peers" / "express")
    urls = client_urls(args.app_port)
    with tempfile.TemporaryDirectory(prefix="bench-outside-") as tmp_name:
        tmp = Path(tmp_name)
        urls_file = tmp / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        ctx = Context(ROOT, Path(sys.executable), tmp, args.database, args.redis_port, urls_file)
        wanted = [p for p in PEERS if node_ok or not p.startswith("express")]
        specs = [spec for spec in build_specs(ctx) if spec.name in wanted]
        ports = {"app": args.app_port} | {spec.name: spec.port for spec in specs}
        with PeerSet(specs, tmp) as peers:
            peers.start()
            for name, error in peers.failed.items():
                print(f"{name} did not start: {error[-400:]}", file=sys.stderr)
                ports.pop(name)
            for port in ports.values():  # fill every cache
                run_load(LoadSpec(port, urls_file, 2.0))
            per_round: list[dict[str, float | None]] = []
            names = list(ports)
            for round_no in range(args.rounds):
                order = names[round_no % len(names) :] + names[: round_no % len(names)]
                row: dict[str, float | None] = {}
                for name in order:
                    row[name] = run_load(LoadSpec(ports[name], urls_file, args.duration)).rps
                per_round.append(row)
                print(f"round {round_no}: " + ", ".join(f"{n} {row[n]:.0f}" for n in names))
    result: dict[str, Any] = {
        "urls": len(urls),
        "rps": {
            name: spread.as_dict()
            for name in names
            if (spread := stats.spread(row[name] for row in per_round)) is not None
        },
        "app_over": {
            peer: ratio.as_dict()
            for peer in names[1:]
            if (ratio := stats.round_ratio(per_round, "app", peer)) is not None
        },
    }
    for peer, ratio in result["app_over"].items():
        low, high = ratio["min"], ratio["max"]
        print(f"app / {peer}: {ratio['median']:.2f} (rounds {low:.2f}-{high:.2f})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
