"""What the benchmark needs from the machine, installed on demand, and what it ran on.

Contract:
- ``ensure_wrk()``: wrk on PATH, installing the Debian package when missing (root + apt-get);
  False when it cannot (the load generator then falls back to ``load._run_python``).
- ``ensure_python_requirements(python)``: ``bench/requirements.txt`` in the project venv
  (pip, only when an import is missing), never in ``requirements.txt``.
- ``ensure_make_run(root)``: ``make install`` once, before the app targets start: each of them
  is ``make run``, whose install step would otherwise run in every one at once when its stamp
  is stale (concurrent pip runs break each other); False when it fails.
- ``ensure_node_modules(dir)``: ``npm ci`` (``npm install`` without a lock) when the Express
  peer's ``node_modules`` is missing or older than its lock file; False without node/npm.
- ``Postgres``: a private database ``bench_<pid>`` on 127.0.0.1:5432 (user postgres, trust
  auth) when one answers; ``drop()`` removes it. No other database is touched.
- ``machine_info()``: date, nproc, CPU model, kernel, memory and tool versions.
Installers print one line each and never raise: a missing tool is reported, not fatal.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def _run(argv: list[str], timeout: float = 300, cwd: Path | None = None) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"  {' '.join(argv[:3])}: {exc}", file=sys.stderr)
        return False
    if done.returncode != 0:
        print(f"  {' '.join(argv[:3])} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
    return done.returncode == 0


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("installing wrk (apt-get install -y wrk)")
    env_ok = _run(["apt-get", "install", "-y", "-q", "wrk"])
    if not env_ok:
        _run(["apt-get", "update", "-q"])
        _run(["apt-get", "install", "-y", "-q", "wrk"])
    return shutil.which("wrk") is not None


def _imports_ok(python: Path) -> bool:
    code = "import flask_caching, matplotlib"
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0


def ensure_make_run(root: Path) -> bool:
    done = subprocess.run(
        ["make", "--no-print-directory", "install"], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"make install failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done.returncode == 0


def ensure_python_requirements(python: Path) -> bool:
    if _imports_ok(python):
        return True
    print("installing bench/requirements.txt into the venv")
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(BENCH_DIR / "requirements.txt")])
    return _imports_ok(python)


def ensure_node_modules(express_dir: Path) -> bool:
    if not shutil.which("node") or not shutil.which("npm"):
        return False
    modules, lock = express_dir / "node_modules", express_dir / "package-lock.json"
    stamp = modules / ".package-lock.json"
    if stamp.exists() and (not lock.exists() or stamp.stat().st_mtime >= lock.stat().st_mtime):
        return True
    print("installing the Express peer's packages (npm ci)")
    command = ["npm", "ci"] if lock.exists() else ["npm", "install"]
    return _run([*command, "--no-audit", "--no-fund", "--loglevel=error"], cwd=express_dir)


class Postgres:
    """A throwaway database on the local PostgreSQL server, if there is one."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5432, user: str = "postgres") -> None:
        self.host, self.port, self.user = host, port, user
        self.name = f"bench_{os.getpid()}"
        self.created = False

    def _psql(self, sql: str) -> bool:
        argv = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres",
                "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]  # fmt: skip
        return _run(argv, timeout=60)

    def create(self) -> str | None:
        if not shutil.which("psql") or not shutil.which("pg_isready"):
            return None
        ready = ["pg_isready", "-q", "-h", self.host, "-p", str(self.port)]
        if subprocess.run(ready, capture_output=True).returncode != 0:
            return None
        if not self._psql(f'CREATE DATABASE "{self.name}"'):
            return None
        self.created = True
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.name}"

    def drop(self) -> None:
        if self.created:
            self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def machine_info(python: Path) -> dict[str, object]:
    versions = {
        "python": _first_line([str(python), "-V"]),
        "wrk": _first_line(["wrk", "-v"]),
        "node": _first_line(["node", "-v"]),
        "redis-server": _first_line(["redis-server", "-v"]),
        "gunicorn": _first_line([str(python.parent / "gunicorn"), "--version"]),
    }
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "memory_gib": memory_gib(),
        "versions": versions,
    }
