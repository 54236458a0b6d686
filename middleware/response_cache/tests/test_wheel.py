# mypy: allow-untyped-defs, allow-incomplete-defs
"""The distribution installs where it is meant to: a wheel built from this folder goes into
a fresh virtual environment (nothing of the repository on its path), imports without
redis-py, and the example app serves ``X-Cache: HIT`` from it.

Slow (a venv and a pip install: about half a minute); pip takes Flask and friends from the
configured package index, as a user's would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent
PROBE = """
import importlib.util, sys
import flask_response_cache
assert flask_response_cache.__file__.startswith(sys.prefix), flask_response_cache.__file__
spec = importlib.util.spec_from_file_location("example", sys.argv[1])
example = importlib.util.module_from_spec(spec); spec.loader.exec_module(example)
client = example.app.test_client()
print(client.get("/posts").headers["X-Cache"], client.get("/posts").headers["X-Cache"])
"""
NO_REDIS = """
import importlib.util, sys
import flask_response_cache
from flask import Flask
assert importlib.util.find_spec("redis") is None
app = Flask("plain"); flask_response_cache.ResponseCache(app)
print("imported", flask_response_cache.__version__)
"""


def _run(*args: str | Path, cwd: Path) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.slow
def test_a_wheel_installs_into_a_fresh_venv_and_the_example_serves_hits(tmp_path: Path):
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, HERE, cwd=tmp_path)
    [wheel] = wheels.glob("flask_response_cache-*.whl")
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=True)
    python = bare / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    assert "imported 0.1.0" in _run(python, "-c", NO_REDIS, cwd=tmp_path)
    _run(python, "-m", "pip", "install", "-q", f"{wheel}[limiter]", cwd=tmp_path)
    answer = _run(python, "-c", PROBE, HERE / "examples" / "app.py", cwd=tmp_path)
    assert answer.split() == ["MISS", "HIT"]
