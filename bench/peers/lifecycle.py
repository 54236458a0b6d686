"""Start, watch and stop the peers: each a process group on its own loopback port.

Contract:
- ``Peer.start()`` launches ``spec.argv`` in a new session (its own process group) with
  ``spec.env``, output to ``<tmp>/logs/<name>.log``, and writes ``<tmp>/pids/<name>.pid``.
  Every child carries ``BENCH_OWNER=<tmp dir>`` in its environment, which is how
  ``reap_stale(tmp)`` recognises (and only then ends) processes a crashed earlier run left
  (``write_pidfile`` registers other processes, such as the bench's redis-server, the same way).
- ``Peer.wait_ready()`` polls the readiness path until it answers 200, or raises ``PeerError``
  with the log's tail if the process exits or the deadline passes.
- ``Peer.stop()`` sends SIGTERM to the group, then SIGKILL after ``grace`` seconds; it is
  idempotent. ``PeerSet`` starts many peers at once and always stops them all on exit (use it
  in a ``with``); a peer that fails to start is recorded in ``failed`` and left out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench import probe
from bench.dataset import HEALTH_PATH


class PeerError(RuntimeError):
    """A peer did not start or did not become ready."""


@dataclass(frozen=True)
class PeerSpec:
    name: str
    description: str
    argv: list[str]
    env: dict[str, str]
    port: int
    cache: str = "none"  # "x-cache" | "flask-caching" | "none"
    cwd: Path | None = None


@dataclass
class Peer:
    spec: PeerSpec
    tmp: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise PeerError(f"{self.name} is not running")
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.tmp / "logs" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.tmp / "pids" / f"{self.name}.pid"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**self.spec.env, "BENCH_OWNER": str(self.tmp)}
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            self.spec.argv,
            cwd=self.spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid_path.write_text(str(self.proc.pid))

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise PeerError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            try:
                if probe.fetch(self.port, HEALTH_PATH, timeout=2.0).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling a child process for readiness
        raise PeerError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            _end_group(proc.pid, grace)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self.pid_path.unlink(missing_ok=True)
        log = self._log
        self._log = None
        if log is not None:
            log.close()  # type: ignore[attr-defined]


def _end_group(pid: int, grace: float) -> None:
    """SIGTERM ``pid`` (its whole group when it leads one); SIGKILL what is left after ``grace``."""
    try:
        leader = os.getpgid(pid) == pid
    except ProcessLookupError:
        return

    def send(sig: int) -> bool:
        try:
            if leader:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    if not send(signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        except ChildProcessError:
            pass
        if not send(0):
            return
        time.sleep(0.05)
    send(signal.SIGKILL)


def write_pidfile(tmp: Path, name: str, pid: int) -> Path:
    path = tmp / "pids" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(pid))
    return path


def reap_stale(tmp: Path) -> list[int]:
    """End process groups a previous run of this bench (same tmp dir) left behind."""
    ended = []
    for pidfile in (tmp / "pids").glob("*.pid"):
        try:
            pid = int(pidfile.read_text().strip())
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            continue
        if f"BENCH_OWNER={tmp}".encode() in environ:
            _end_group(pid, grace=3.0)
            ended.append(pid)
        pidfile.unlink(missing_ok=True)
    return ended


class PeerSet:
    """Peers started together and stopped together (``with PeerSet(...) as peers``)."""

    def __init__(self, specs: Iterable[PeerSpec], tmp: Path) -> None:
        self.peers = {spec.name: Peer(spec, tmp) for spec in specs}
        self.failed: dict[str, str] = {}

    def __enter__(self) -> PeerSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def start(self, names: Iterable[str] | None = None, timeout: float = 90.0) -> None:
        """Start the named peers (default: all) in parallel and wait until each is ready."""
        chosen = [self.peers[n] for n in (names or list(self.peers))]
        for peer in chosen:
            try:
                peer.start()
            except OSError as exc:
                self.failed[peer.name] = str(exc)
        for peer in chosen:
            if peer.name in self.failed:
                continue
            try:
                peer.wait_ready(timeout)
            except PeerError as exc:
                self.failed[peer.name] = str(exc)
                peer.stop()

    def ready(self, name: str) -> bool:
        peer = self.peers.get(name)
        return peer is not None and name not in self.failed and peer.alive()

    def __getitem__(self, name: str) -> Peer:
        return self.peers[name]

    def stop_all(self) -> None:
        for peer in self.peers.values():
            peer.stop()
