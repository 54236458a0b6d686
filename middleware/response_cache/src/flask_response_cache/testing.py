"""Test helpers for apps that use the cache: a real redis-server per test, a fake clock.

Contract:

- ``RedisServer(workdir)`` is a private ``redis-server`` process on a free loopback
  port that the test owns and can ``kill()`` (SIGKILL: connections refused),
  ``pause()`` / ``resume()`` (SIGSTOP/SIGCONT: the kernel accepts connections, replies
  never come), ``restart()`` empty or ``restart(from_snapshot=True)`` after
  ``save_snapshot()``, and ``stop()``. It never talks to a shared Redis (6379), keeps
  nothing outside ``workdir``, and refuses to start on a taken port (it checks
  readiness itself: ``redis-server --daemonize`` would exit 0 anyway). The binary is
  ``$REDIS_SERVER_BINARY`` or ``redis-server`` on PATH.
- ``FakeClock``: a clock tests move by hand (``advance``); hand it to ``CacheCore`` as
  ``clock``, ``monotonic`` and ``sleep`` and no test waits on the wall clock.
- ``steady_heap()``: for a test that times requests served or sent by its own process
  (the client's clock counts a collection too). Every object alive when it starts is
  frozen (``gc.freeze``), so a full collection of what a long test session has
  accumulated cannot land inside a timed request (a worker's heap is a fraction of a
  test runner's); unfrozen on exit, so nothing is kept.

Nothing here is imported by the extension itself.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


def redis_server_binary() -> str:
    """``$REDIS_SERVER_BINARY``, else ``redis-server`` on PATH."""
    found = os.environ.get("REDIS_SERVER_BINARY") or shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: put it on PATH or set REDIS_SERVER_BINARY")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None, extra_args: tuple[str, ...] = ()):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, timeout: float = 2.0) -> redis.Redis:
        import redis  # the [redis] extra: only RedisServer needs it

        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def start(self) -> RedisServer:
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--dbfilename", "dump.rdb",
            "--enable-debug-command", "local",
            "--logfile", str(self.workdir / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited at start on port {self.port}:\n{log}")
            try:
                if self.client(timeout=0.2).ping():
                    return
            except redis.RedisError:  # not accepting connections yet
                pass
            time.sleep(0.01)  # polling a child process for readiness, not a clock
        raise RuntimeError(f"redis-server on port {self.port} not ready after {timeout}s")

    def kill(self) -> None:
        """SIGKILL: connections refused from now on."""
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, replies never come."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def save_snapshot(self) -> None:
        self.client().save()

    def restart(self, from_snapshot: bool = False) -> None:
        """Kill and start again on the same port; empty unless from_snapshot."""
        self.kill()
        dump = self.workdir / "dump.rdb"
        if not from_snapshot and dump.exists():
            dump.unlink()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None


@contextmanager
def steady_heap() -> Iterator[None]:
    """Freeze the objects alive now for the block (see the module docstring)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class FakeClock:
    """A clock tests move by hand; ``sleep`` just moves it forward."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.now += seconds
