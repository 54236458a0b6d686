"""One benchmark run from start to finish: set up, start, measure, stop, report.

Contract of ``run_benchmark(plan, command)``:
1. ends processes a crashed earlier run left (``peers.reap_stale``), installs what is missing
   (``make install`` for the ``make run`` targets, wrk, ``bench/requirements.txt``, the
   Express peer's ``node_modules``);
2. seeds ``bench/results/tmp/bench.db`` (and ``bench_<pid>`` on PostgreSQL when one answers and
   the plan wants it), writes the request files, starts a private redis-server on a free port;
3. starts every target at once and runs the planned workloads in ``workloads.ORDER``; a
   workload that raises is recorded as an error and the run goes on;
4. always (``finally``, Ctrl-C and SIGTERM included) stops every process it started and drops
   its PostgreSQL database; then writes ``bench/results/latest.{json,md,png}``.
Returns the exit status: 0 when the report was written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bench import dataset, environment, goals, report
from bench.peers import PeerSet, reap_stale, write_pidfile
from bench.peers.specs import TARGETS, Context, build_specs
from bench.plan import Plan
from bench.runner import Bench, Files
from bench.workloads import (
    ORDER,
    factors,
    hit,
    invalidation,
    memory,
    miss,
    mixed,
    redis_down,
    scaling,
    sessions,
    stampede,
    workers,
)
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TMP = RESULTS / "tmp"

WORKLOADS: dict[str, Callable[[Bench], dict[str, Any]]] = {
    "hit": hit.run,
    "hit-single": hit.run_single,
    "factors": factors.run,
    "workers": workers.run,
    "scaling": scaling.run,
    "latency": hit.run_latency,
    "miss": miss.run,
    "stampede": stampede.run,
    "memory": memory.run,
    "mixed": mixed.run,
    "invalidation": invalidation.run,
    "sessions": sessions.run,
    "redis-down": redis_down.run,
}


# The targets each workload drives: a run starts only those its workloads need.
NEEDS: dict[str, tuple[str, ...]] = {
    "hit": (*hit.HIT_TARGETS, *hit.PROBE_TARGETS),
    "hit-single": hit.HIT_TARGETS,
    "factors": factors.TARGETS,
    "workers": workers.TARGETS,
    "scaling": scaling.TARGETS,
    "latency": hit.LATENCY_TARGETS,
    "miss": (*miss.MISS_TARGETS, *miss.LIST_TARGETS),
    "stampede": stampede.TARGETS,
    "memory": tuple(memory.PREFIXES),
    "mixed": mixed.TARGETS,
    "invalidation": (),
    "sessions": (),
    "redis-down": redis_down.TARGETS,
}


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _prepare(python: Path, plan: Plan, pg: environment.Postgres) -> tuple[Path, str | None]:
    print("seeding SQLite (flask --app app seed)")
    db_path = TMP / "bench.db"
    dataset.seed_sqlite(ROOT, db_path, python)
    pg_url = None
    if plan.postgres and plan.runs("miss"):  # app-nocache-pg is a miss-path reference
        pg_url = pg.create()
        if pg_url:
            print(f"seeding PostgreSQL database {pg.name}")
            dataset.seed_database(ROOT, pg_url, python)
    return db_path, pg_url


def _set_app_ttls(bench: Bench) -> str:
    """TTL 3600 s on the app's two routes (``flask cache ttl``), as Flask-Caching and the recipe
    get in the bench, so nothing expires during the hit stage. Lost when the bench empties its
    Redis (later stages do not depend on it)."""
    if not bench.peers.ready("app"):
        return "app not running"
    flask = str(bench.python.parent / "flask")
    env = dict(bench.peers["app"].spec.env)
    procs = [
        subprocess.Popen(
            [flask, "--app", "app", "cache", "ttl", endpoint, "3600"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for endpoint in ("posts.list_posts", "posts.get_post")
    ]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace").strip() for p in procs]
    if any(p.returncode != 0 for p in procs):
        bench.note(f"could not set the app's TTLs to 3600 s (defaults kept): {outputs}")
        return "defaults"
    return "; ".join(outputs)


def _run_workloads(bench: Bench, timings: dict[str, float]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in ORDER:
        if not bench.plan.runs(name):
            continue
        print(f"[{time.strftime('%H:%M:%S')}] workload {name}")
        started = time.monotonic()
        try:
            results[name] = WORKLOADS[name](bench)
        except Exception as exc:  # one broken workload must not lose the others' figures
            bench.note(f"workload {name} failed: {exc.__class__.__name__}: {exc}")
            results[name] = {"error": traceback.format_exc()[-3000:]}
        timings[name] = round(time.monotonic() - started, 1)
    _note_other_load(bench, results)
    return results


def _note_other_load(bench: Bench, results: dict[str, Any]) -> None:
    """Say so when CPU we did not use was busy during the measured runs (method: > 0.2 cores)."""
    loads = [
        run["other_cores"]
        for section in results.values()
        if isinstance(section, dict)
        for run in section.get("runs", [])
    ]
    if loads:
        busy = sorted(loads)[len(loads) // 2]
        if busy > 0.2:
            bench.note(
                f"other load: median {busy:.2f} cores busy outside the bench during runs "
                "(> 0.2): absolute req/s are depressed and ratios noisier; rerun when quiet"
            )


def run_benchmark(plan: Plan, command: str) -> int:
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _terminate)
    python = Path(sys.executable)
    TMP.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_OWNER"] = str(TMP)  # inherited by every child: see peers.reap_stale
    if ended := reap_stale(TMP):
        print(f"ended processes left by an earlier run: {ended}")
    notes: list[str] = []
    if not environment.ensure_python_requirements(python):
        notes.append("bench/requirements.txt could not be installed: no Flask-Caching peer")
    if not environment.ensure_make_run(ROOT):
        notes.append("make install failed: the app targets (make run) may not start")
    if not environment.ensure_wrk():
        notes.append("wrk unavailable: the asyncio load generator was used instead")
    node_ok = environment.ensure_node_modules(ROOT / "bench" / "peers" / "express")
    if not node_ok:
        notes.append("node/npm unavailable: no Express peers")
    machine = environment.machine_info(python)
    pg = environment.Postgres()
    redis_server = RedisServer(TMP / "redis")
    peers: PeerSet | None = None
    app_ttls = "not set"
    timings: dict[str, float] = {}
    try:
        db_path, pg_url = _prepare(python, plan, pg)
        published = dataset.published_order(db_path)
        hit_urls = dataset.hit_urls(published)
        files = Files(
            hit=_write_lines(TMP / "hit.txt", hit_urls),
            lists=_write_lines(TMP / "lists.txt", dataset.list_urls()),
            miss=_write_lines(TMP / "miss.txt", dataset.miss_urls(published)),
            # A post of the hit mix: every peer (the constant route too) can answer it.
            single=_write_lines(TMP / "single.txt", [next(u for u in hit_urls if "?" not in u)]),
        )
        redis_server.start()
        assert redis_server.proc is not None
        write_pidfile(TMP, "redis", redis_server.proc.pid)
        ctx = Context(ROOT, python, TMP, db_path, redis_server.port, files.hit, pg_url)
        needed = {name for w in plan.workloads for name in NEEDS[w]}
        specs = [
            s
            for s in build_specs(ctx)
            if s.name in needed and (node_ok or not s.name.startswith("express"))
        ]
        peers = PeerSet(specs, TMP)
        print(f"starting {len(specs)} targets")
        peers.start()
        for name, error in peers.failed.items():
            notes.append(f"target {name} did not start: {error[-600:]}")
            print(f"  {name} failed to start:\n{error[-1500:]}", file=sys.stderr)
        bench = Bench(plan, ROOT, TMP, python, peers, redis_server, files, published,
                      dataset.authors(db_path), hit_urls, notes)  # fmt: skip
        app_ttls = _set_app_ttls(bench)
        timings["setup"] = round(time.monotonic() - started, 1)
        results = _run_workloads(bench, timings)
    finally:
        if peers is not None:
            peers.stop_all()
        redis_server.stop()
        (TMP / "pids" / "redis.pid").unlink(missing_ok=True)
        pg.drop()
    doc: dict[str, Any] = {
        "meta": {
            "command": command,
            "machine": machine,
            "plan": {k: v for k, v in vars(plan).items() if k != "workloads"}
            | {"workloads": list(plan.workloads)},
            "elapsed_s": time.monotonic() - started,
            "timings_s": timings,
            "postgres": pg_url is not None,
            "app_ttls": app_ttls,
        },
        "targets": {s.name: TARGETS[s.name] for s in specs},
        "goals": [g.as_dict() for g in goals.evaluate(results)],
        "results": results,
        "notes": notes,
    }
    report.write_reports(doc, RESULTS)
    print(f"wrote {RESULTS / 'latest.md'} in {time.monotonic() - started:.0f} s")
    return 0
