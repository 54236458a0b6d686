"""Real gunicorn instances of the app for multi-process tests.

``GunicornServer(env).start()`` serves ``wsgi:app`` with the repo's
``gunicorn.conf.py`` on a free loopback port and waits until
``/api/v1/health`` answers; ``stop()`` sends SIGTERM and reaps it. Each
instance gets its own pidfile; nothing here depends on the shared services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def seed_sqlite(db_path: Path, users: int = 5, posts: int = 40, tags: int = 5) -> str:
    url = f"sqlite:///{db_path}"
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
    env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*flask, "seed", "--users", str(users), "--posts", str(posts), "--tags", str(tags)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return url


class GunicornServer:
    def __init__(self, env: dict[str, str], workdir: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "SECRET_KEY": "test-secret-key-0123456789abcdef",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> GunicornServer:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        log = open(self.workdir / f"gunicorn-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "--pid", str(self.pidfile), "wsgi:app"],
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
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)  # polling a child process for readiness, not a clock
        raise RuntimeError(f"gunicorn not ready after {timeout}s:\n{self.log_tail()}")

    @property
    def pidfile(self) -> Path:
        return self.workdir / f"gunicorn-{self.port}.pid"

    def log_tail(self, size: int = 4000) -> str:
        path = self.workdir / f"gunicorn-{self.port}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
