"""The load generator: wrk with a Lua script, or a small asyncio fallback without wrk.

Contract:
- ``run_load(LoadSpec)`` drives ``http://127.0.0.1:<port>`` for ``duration`` seconds with
  ``connections`` connections (one wrk thread, to leave the cores to the servers) and returns a
  ``LoadResult``: requests, req/s, latency percentiles (ms), socket errors, and ``non2xx``
  (statuses > 399, wrk's ``errors.status``).
- The request list is a file: one path per line (``rotate.lua``), or the tab-separated mixed
  format of ``mixed.lua``. Requests go round robin from the first line.
- wrk's output is parsed from the single ``BENCH_JSON`` line its ``done`` hook prints
  (``bench/wrk/report.lua``); ``parse_wrk_output`` raises ``LoadError`` when it is missing.
- Traffic only ever goes to 127.0.0.1, and every run is bounded by ``duration`` (plus a
  timeout on the process).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import stats

WRK_DIR = Path(__file__).resolve().parent / "wrk"


class LoadError(RuntimeError):
    """The load generator failed or printed nothing usable."""


@dataclass(frozen=True)
class LoadSpec:
    port: int
    requests_file: Path
    duration: float
    connections: int = 16
    script: str = "rotate.lua"  # or "mixed.lua"


@dataclass
class LoadResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non2xx: int
    socket_errors: int
    generator: str

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def parse_wrk_output(text: str) -> LoadResult:
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise LoadError(f"wrk printed no BENCH_JSON line:\n{text[-2000:]}")
    duration = data["duration_us"] / 1e6
    lat = data["latency_us"]
    errors = data["errors"]
    return LoadResult(
        requests=int(data["requests"]),
        duration_s=duration,
        rps=data["requests"] / duration if duration > 0 else 0.0,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        max_ms=lat["max"] / 1000,
        mean_ms=lat["mean"] / 1000,
        non2xx=int(errors["status"]),
        socket_errors=sum(int(errors[k]) for k in ("connect", "read", "write", "timeout")),
        generator="wrk",
    )


def wrk_available() -> bool:
    """wrk on PATH, unless ``BENCH_LOAD=python`` asks for the fallback (to test it)."""
    return os.environ.get("BENCH_LOAD") != "python" and shutil.which("wrk") is not None


def run_load(spec: LoadSpec) -> LoadResult:
    if wrk_available():
        return _run_wrk(spec)
    return asyncio.run(_run_python(spec))


def _run_wrk(spec: LoadSpec) -> LoadResult:
    seconds = max(1, round(spec.duration))
    argv = [
        "wrk", "-t1", f"-c{spec.connections}", f"-d{seconds}s", "--latency",
        "--timeout", "10s", "-s", str(WRK_DIR / spec.script),
        f"http://127.0.0.1:{spec.port}", "--", str(spec.requests_file),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr[-2000:]}")
    return parse_wrk_output(done.stdout)


# -- fallback: an asyncio generator (only when wrk cannot be installed) ----------------------


def _prepared_requests(spec: LoadSpec) -> list[bytes]:
    host = f"127.0.0.1:{spec.port}"
    prepared = []
    for line in spec.requests_file.read_text().splitlines():
        if not line:
            continue
        if spec.script == "rotate.lua":
            prepared.append(f"GET {line} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            continue
        kind, path, *rest = line.split("\t")
        if kind == "G":
            prepared.append(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        else:
            cookie, body = rest[0], rest[1].encode()
            head = (
                f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            prepared.append(head.encode() + body)
    return prepared


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _run_python(spec: LoadSpec) -> LoadResult:
    prepared = _prepared_requests(spec)
    latencies: list[float] = []
    counters = {"next": 0, "non2xx": 0, "errors": 0}
    started = time.monotonic()
    deadline = started + spec.duration

    async def connection() -> None:
        reader = writer = None
        while time.monotonic() < deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", spec.port)
                except OSError:
                    counters["errors"] += 1
                    continue
            payload = prepared[counters["next"] % len(prepared)]
            counters["next"] += 1
            sent = time.monotonic()
            try:
                writer.write(payload)
                assert reader is not None
                status, close = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError):
                counters["errors"] += 1
                writer.close()
                writer = None
                continue
            latencies.append(time.monotonic() - sent)
            counters["non2xx"] += status > 399
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(spec.connections)))
    elapsed = time.monotonic() - started
    ms = [v * 1000 for v in latencies]
    return LoadResult(
        requests=len(ms),
        duration_s=elapsed,
        rps=len(ms) / elapsed,
        p50_ms=stats.percentile(ms, 50) or 0.0,
        p90_ms=stats.percentile(ms, 90) or 0.0,
        p99_ms=stats.percentile(ms, 99) or 0.0,
        max_ms=max(ms, default=0.0),
        mean_ms=sum(ms) / len(ms) if ms else 0.0,
        non2xx=counters["non2xx"],
        socket_errors=counters["errors"],
        generator="python-asyncio",
    )
