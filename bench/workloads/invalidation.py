"""Invalidation cost with 0, 100,000 and 1,000,000 unrelated keys, app vs the recipe.

Runs ``invalidation_probe`` in a subprocess against a private redis-server started here (its
own port, killed afterwards) and a copy of the bench's SQLite file (the durable form writes a
journal row). The issue's bar: the app's time is flat in the key count and <= 1 ms at 1M.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from bench.runner import Bench
from tests.support.redis_server import RedisServer


def run(bench: Bench) -> dict[str, Any]:
    db_copy = bench.tmp / "invalidation.db"
    source = bench.tmp / "bench.db"
    shutil.copyfile(source, db_copy)
    server = RedisServer(bench.tmp / "redis-invalidation").start()
    sizes = ",".join(str(s) for s in bench.plan.invalidation_sizes)
    argv = [
        str(bench.python), "-m", "bench.workloads.invalidation_probe",
        "--redis-url", server.url, "--db", str(db_copy), "--sizes", sizes,
        "--reps", str(bench.plan.invalidation_reps),
    ]  # fmt: skip
    print(f"  invalidation: sizes {sizes}")
    try:
        done = subprocess.run(argv, cwd=bench.root, capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
        db_copy.unlink(missing_ok=True)
    if done.returncode != 0:
        bench.note(f"invalidation probe failed: {done.stderr.strip()[-800:]}")
        return {"skipped": "probe failed", "stderr": done.stderr[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("app_error"):
        bench.note(f"invalidation: the app did not start in-process: {result['app_error']}")
    for size, entry in result["sizes"].items():
        app = entry.get("app", {})
        if "skipped" in app:
            bench.note(f"invalidation at {size} keys: app skipped ({app['skipped']})")
        print(
            f"    {size:>8s} keys: app {app.get('redis_ms', 'n/a')} ms, "
            f"recipe SCAN {entry['recipe_scan']['ms']:.1f} ms"
        )
    return result
