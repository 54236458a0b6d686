"""What a signed-in read costs the session store, Redis up and down (issue 16's figure).

Runs ``session_probe`` in a subprocess on a copy of the bench's SQLite file; the probe starts
(and kills) its own redis-server. The bar: with Redis up, a signed-in read issues no SQL
statement on the ``sessions`` table.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from bench.runner import Bench

READS = 200


def run(bench: Bench) -> dict[str, Any]:
    db_copy = bench.tmp / "sessions.db"
    shutil.copyfile(bench.tmp / "bench.db", db_copy)
    argv = [
        str(bench.python), "-m", "bench.workloads.session_probe",
        "--db", str(db_copy), "--reads", str(READS),
    ]  # fmt: skip
    print(f"  sessions: {READS} signed-in reads per case")
    try:
        done = subprocess.run(argv, cwd=bench.root, capture_output=True, text=True, timeout=120)
    finally:
        db_copy.unlink(missing_ok=True)
    if done.returncode != 0:
        bench.note(f"session probe failed: {done.stderr.strip()[-800:]}")
        return {"skipped": "probe failed", "stderr": done.stderr[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for case, figures in result.items():
        print(f"    {case}: {figures}")
    return result
