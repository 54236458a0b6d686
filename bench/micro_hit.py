"""Micro-benchmark of the response cache's hit path: fast path on vs off vs a constant route.

Run: ``.venv/bin/python -m bench.micro_hit [--rounds 3] [--seconds 5] [--connections 16]``
(needs ``wrk`` and ``redis-server`` on PATH). Owned by the fast-path work (decision D28);
``make bench`` is the full benchmark, this is the quick, repeatable check of one question:
what does a cache hit cost when answered below Flask, against the same app answering it
from Flask's ``before_request`` and against Flask's own ceiling.

Targets, each under ``gunicorn -c gunicorn.conf.py`` with 2 sync workers on its own port,
all on one private redis-server and one seeded SQLite file (``tests.support``):

- ``fast``: the app, ``RESPONSE_CACHE_FAST_PATH=true`` (hits answered below Flask);
- ``flask-hook``: the same app with ``RESPONSE_CACHE_FAST_PATH=false`` (hits answered
  by the extension's ``before_request`` hook, after Flask-Limiter's);
- ``fast-nolimit`` / ``flask-hook-nolimit``: the same two with ``RATELIMIT_ENABLED=false``;
- ``constant``: a Flask app whose two routes return precomputed bytes of the same sizes
  (a URL-map match, a dict lookup and a ``Response``: Flask's ceiling for a hit), no limiter;
- ``constant-limit``: the same with Flask-Limiter counting every request on the same Redis
  (issue 7 compares the app with peers that carry the same limiter);
- ``fast-unpipelined`` (only on request): the fast path counting a hit in a second round
  trip after its lookup instead of on the entry's read, to measure what the pipeline buys.

The URL rotation is 20% list pages and 80% single posts (as the anchors). Every cache entry
is filled and checked to answer ``X-Cache: HIT`` before the rounds and after them. Then a
2 s warm-up per target and ``--rounds`` interleaved rounds of ``--seconds`` each (the first
target rotates each round), driven by ``wrk -t1 -c16`` from 127.0.0.1. Reported: median
req/s (min-max), p50/p99, server CPU per request (the gunicorn process tree's utime+stime)
and the medians of the per-round ratios ``fast/constant``, ``fast/flask-hook``.

``--workload miss`` (targets ``fast,flask-hook``): every request is a list page nobody asked
for before (``?limit=20&page=N``, N fresh for every run), so the view runs and the answer is
stored: what the fast path's extra round trip costs a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from tests.support.gunicorn_server import ROOT, GunicornServer, seed_sqlite
from tests.support.redis_server import RedisServer

MISS_SCRIPT = """
local base = 0
local n = 0
function init(args) base = tonumber(args[1]) end
function request()
  n = n + 1
  return wrk.format("GET", "/api/v1/posts?limit=20&page=" .. (base + n))
end
"""

WRK_SCRIPT = """
local paths = {}
local position = 0
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = wrk.format("GET", line) end
  end
  position = #paths - 1
end
function request()
  position = position % #paths + 1
  return paths[position]
end
"""


class TargetServer(GunicornServer):
    """``GunicornServer`` serving any WSGI target (``module:app`` or ``module:factory()``)."""

    def __init__(self, target: str, env: dict[str, str], workdir: Path) -> None:
        super().__init__(env, workdir)
        self.target = target

    def start(self, timeout: float = 60.0) -> TargetServer:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        log = open(self.workdir / f"gunicorn-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "--pid", str(self.pidfile), self.target],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v1/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)  # polling a child for readiness
        raise RuntimeError(f"gunicorn not ready after {timeout}s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total


def build_constant_app(limited: bool = False) -> Any:
    """gunicorn target ``bench.micro_hit:build_constant_app()``: precomputed bodies.

    ``limited``: with Flask-Limiter counting every request in one application-wide
    bucket on the same Redis (fixed window, headers on), like the app's limiter.
    """
    from flask import Flask, Response, abort, request

    bodies = json.loads(Path(os.environ["MICRO_BODIES"]).read_text())
    encoded = {path: body.encode("latin1") for path, body in bodies.items()}
    app = Flask("micro_constant")
    if limited:
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        Limiter(
            get_remote_address,
            app=app,
            application_limits=[os.environ["RATELIMIT_API"]],
            storage_uri=os.environ["REDIS_URL"],
            strategy="fixed-window",
            headers_enabled=True,
            key_prefix="micro",
        )

    def constant(**_: Any) -> Response:
        environ = request.environ
        query = environ.get("QUERY_STRING", "")
        key = environ["PATH_INFO"] + ("?" + query if query else "")
        body = encoded.get(key)
        if body is None:
            abort(404)
        return Response(body, mimetype="application/json")

    app.add_url_rule("/api/v1/posts", "list_posts", constant)
    app.add_url_rule("/api/v1/posts/<int:post_id>", "get_post", constant)
    app.add_url_rule("/api/v1/health", "health", lambda: {"status": "ok"})
    return app


def build_app_unpipelined() -> Any:
    """gunicorn target: the app with the fast path counting hits after their lookup
    (a second round trip) instead of on the entry's read: to measure what the pipeline buys."""
    from wsgi import app

    app.extensions["response_cache"].fast_path.charge.pipelined = False
    return app


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


def run_wrk(base_url: str, argument: str, script: Path, seconds: float, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
         base_url, "--", argument],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def pct(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "requests": total,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument(
        "--targets", default="fast,flask-hook,constant,fast-nolimit,flask-hook-nolimit"
    )
    parser.add_argument(
        "--workload",
        choices=("hit", "miss"),
        default="hit",
        help="miss: every request a list page never asked before (the view runs and stores)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")

    work = Path(tempfile.mkdtemp(prefix="micro_hit_"))
    redis_server = RedisServer(work / "redis").start()
    servers: dict[str, TargetServer] = {}
    try:
        db_url = seed_sqlite(work / "bench.db", users=50, posts=args.posts, tags=20)
        base_env = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_server.url,
            "RATELIMIT_API": "100000000 per minute",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_WORKER_CLASS": "sync",
        }
        variants = {
            "fast": {"RESPONSE_CACHE_FAST_PATH": "true"},
            "flask-hook": {"RESPONSE_CACHE_FAST_PATH": "false"},
            "fast-nolimit": {"RESPONSE_CACHE_FAST_PATH": "true", "RATELIMIT_ENABLED": "false"},
            "flask-hook-nolimit": {
                "RESPONSE_CACHE_FAST_PATH": "false",
                "RATELIMIT_ENABLED": "false",
            },
        }
        wanted = [name for name in args.targets.split(",") if name]
        for name in wanted:
            if name in variants:
                servers[name] = TargetServer(
                    "wsgi:app", {**base_env, **variants[name]}, work / name
                )
                servers[name].start()
            elif name == "fast-unpipelined":
                target = "bench.micro_hit:build_app_unpipelined()"
                servers[name] = TargetServer(target, {**base_env, **variants["fast"]}, work / name)
                servers[name].start()

        # The URL rotation: published posts and list pages the app answers with 200.
        probe = next(iter(servers.values()))
        rng = random.Random(20240611)
        pages = [f"/api/v1/posts?page={n}&limit=20" for n in range(1, 11)]
        posts: list[str] = []
        candidates = list(range(1, args.posts + 1))
        rng.shuffle(candidates)
        for post_id in candidates:
            if len(posts) >= 40:
                break
            try:
                status, _, _ = fetch(f"{probe.base_url}/api/v1/posts/{post_id}")
            except urllib.error.HTTPError:
                continue
            if status == 200:
                posts.append(f"/api/v1/posts/{post_id}")
        urls = pages + posts
        rng.shuffle(urls)
        urls_file = work / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        script = work / "rotate.lua"
        script.write_text(WRK_SCRIPT if args.workload == "hit" else MISS_SCRIPT)
        bases = iter(range(1000, 1_000_000, 25_000))  # miss: unseen pages for every run

        def argument() -> str:
            return str(urls_file) if args.workload == "hit" else str(next(bases))

        bodies = {url: fetch(probe.base_url + url)[2].decode("latin1") for url in urls}
        (work / "bodies.json").write_text(json.dumps(bodies))
        env = {**base_env, "MICRO_BODIES": str(work / "bodies.json")}
        for name, target in (
            ("constant", "bench.micro_hit:build_constant_app()"),
            ("constant-limit", "bench.micro_hit:build_constant_app(limited=True)"),
        ):
            if name in wanted:
                servers[name] = TargetServer(target, env, work / name)
                servers[name].start()

        def check_hits(stage: str) -> None:
            for name, server in servers.items():
                if name.startswith("constant"):
                    continue
                for url in (urls[0], urls[-1]):
                    for _ in range(2):  # fill (each worker may see a miss once), then check
                        _, headers, _ = fetch(server.base_url + url)
                    if headers.get("X-Cache") != "HIT":
                        raise SystemExit(f"{stage}: {name} {url} answered {headers.get('X-Cache')}")

        for server in servers.values():  # fill every entry once
            for url in urls:
                fetch(server.base_url + url)
        check_hits("before")

        names = [name for name in wanted if name in servers]
        for name in names:  # warm-up, unmeasured
            run_wrk(servers[name].base_url, argument(), script, 2, args.connections)
        results: dict[str, list[dict]] = {name: [] for name in names}
        for round_no in range(args.rounds):
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                server = servers[name]
                cpu_before = server.cpu_seconds()
                run = run_wrk(server.base_url, argument(), script, args.seconds, args.connections)
                run["cpu_us_per_req"] = (server.cpu_seconds() - cpu_before) / run["requests"] * 1e6
                run["round"] = round_no
                results[name].append(run)
                print(
                    f"round {round_no + 1} {name:20s} {run['rps']:8.0f} req/s  p50 "
                    f"{run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  "
                    f"cpu {run['cpu_us_per_req']:.0f} us/req  non2xx {run['non2xx']}",
                    flush=True,
                )
        if args.workload == "hit":
            check_hits("after")
        report(results, args)
        if args.json:
            args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                             "results": results}, indent=2))  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        redis_server.stop()
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.workload} workload, "
        f"{args.rounds} rounds x {args.seconds:g} s, wrk -t1 -c{args.connections}, "
        f"gunicorn -w 2 -k sync, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'target':20s} {'median req/s':>12s} {'(min-max)':>15s} {'p50 ms':>7s} {'p99 ms':>7s}"
          f" {'cpu us/req':>10s}")  # fmt: skip
    for name, runs in results.items():
        rps = [r["rps"] for r in runs]
        print(
            f"{name:20s} {statistics.median(rps):12.0f} {f'({min(rps):.0f}-{max(rps):.0f})':>15s}"
            f" {statistics.median(r['p50_ms'] for r in runs):7.2f}"
            f" {statistics.median(r['p99_ms'] for r in runs):7.2f}"
            f" {statistics.median(r['cpu_us_per_req'] for r in runs):10.0f}"
        )
    pairs = [
        ("fast", "constant"),
        ("fast", "constant-limit"),
        ("fast", "flask-hook"),
        ("flask-hook", "constant"),
        ("fast-nolimit", "constant"),
        ("fast-nolimit", "flask-hook-nolimit"),
        ("fast", "fast-unpipelined"),
    ]
    for top, bottom in pairs:
        if top in results and bottom in results:
            ratios = [
                a["rps"] / b["rps"] for a, b in zip(results[top], results[bottom], strict=True)
            ]
            print(
                f"{top}/{bottom}: median {statistics.median(ratios):.2f} "
                f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
            )


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
