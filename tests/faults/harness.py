"""Drive real gunicorn instances over real Redis and measure what their clients see.

Contract:
- ``Http`` sends one request per TCP connection (gunicorn's sync workers close
  every connection) and times it with ``perf_counter`` around the whole
  exchange. Every request carries a unique ``X-Probe`` id; the instances log it
  beside the worker's pid (``ACCESS_LOG_ARGS``), so ``served_by`` tells which
  worker answered: "the first request per worker" is known, not guessed.
- ``Writer`` is a demo user logged in over HTTP; ``write()`` sets the title of
  one post to ``v<n> ...`` and remembers when each version was acknowledged.
- ``Workload`` reads the first page of ``/api/v1/posts`` and that post as an
  anonymous client and counts a **stale read** whenever a read *sent after*
  version n was acknowledged returns an older version (the list and the single
  post both). Reads sent before an acknowledgement may see either version.
- ``Figures`` turns a healthy baseline and a fault window into the report's
  numbers: 5xx counts, the worst first request per worker, the extra latency
  of the other requests against the baseline median (p50/p95/max), stale
  reads and the time to recover to cache hits.
Nothing here mocks Redis or SQL: the faults are real processes being killed,
stopped, paused, slowed or refused.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import shlex
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.gunicorn_server import GunicornServer

DEMO_PASSWORD = "demo-password"  # cli.DEMO_PASSWORD: every seeded user's password
POSTS = "/api/v1/posts"
LOGIN = "/api/v1/auth/login"

# gunicorn logs "probe <pid> <probe id> <status>" for every request.
ACCESS_LOG_ARGS = "--access-logformat " + shlex.quote("probe %(p)s %({x-probe}i)s %(s)s")
_PROBE_LINE = re.compile(r"^probe <(\d+)> (\d+) (\d+)$", re.MULTILINE)

# Every fault deployment: limits far above the test traffic, the probe log format.
BASE_ENV = {
    "RATELIMIT_API": "1000000 per minute",
    "RATELIMIT_AUTH": "1000000 per minute",
    "RATELIMIT_LOGIN_FAILURES": "1000 per minute",
    "GUNICORN_CMD_ARGS": ACCESS_LOG_ARGS,
    "GUNICORN_ACCESS_LOG": "-",  # off by default; the probe lines are gunicorn's
}

_probe_ids = itertools.count(1)
_VERSION = re.compile(r"^v(\d+) ")


@dataclass
class Reply:
    probe: int
    method: str
    path: str
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    started: float  # perf_counter when the request was sent
    elapsed: float  # seconds until the whole response was read

    @property
    def x_cache(self) -> str:
        return self.headers.get("x-cache", "")

    def __repr__(self) -> str:  # assertion messages: never the whole body
        return (
            f"<Reply #{self.probe} {self.method} {self.path} {self.status} "
            f"{self.x_cache or '-'} {self.ms:.1f} ms {self.body[:80]!r}>"
        )

    @property
    def ms(self) -> float:
        return self.elapsed * 1000

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """One instance's HTTP interface; thread-safe (one connection per request)."""

    def __init__(self, port: int, timeout: float = 15.0, source: str | None = None) -> None:
        self.port = port
        self.timeout = timeout
        # Any 127.x.y.z is ours on Linux: a client "from another address" on one machine.
        self.source = (source, 0) if source else None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        cookie: str | None = None,
    ) -> Reply:
        probe = next(_probe_ids)
        sent_headers = {"X-Probe": str(probe), **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        if cookie:
            sent_headers["Cookie"] = f"session={cookie}"
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=self.timeout, source_address=self.source
        )
        started = time.perf_counter()
        try:
            connection.request(method, path, body=payload, headers=sent_headers)
            response = connection.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - started
            received = {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        return Reply(probe, method, path, response.status, received, data, started, elapsed)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)


def session_cookie(reply: Reply) -> str | None:
    raw = reply.headers.get("set-cookie", "")
    match = re.match(r"session=([^;]*)", raw)
    return match.group(1) if match and match.group(1) else None


def served_by(server: GunicornServer) -> dict[int, int]:
    """Probe id -> pid of the worker that answered, from the instance's access log."""
    log = server.workdir / f"gunicorn-{server.port}.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return {int(probe): int(pid) for pid, probe, _ in _PROBE_LINE.findall(text)}


def wait_for_log(server: GunicornServer, probes: Iterable[int], timeout: float = 3.0) -> None:
    """gunicorn writes the access line just after the response: wait until all are in."""
    wanted = set(probes)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted <= served_by(server).keys():
            return
        time.sleep(0.02)  # polling a log file another process writes, not a clock


@dataclass
class WriteLog:
    """Acknowledged versions of the watched post, in order."""

    acked: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, version)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latest_before(self, moment: float) -> int:
        with self.lock:
            versions = [version for at, version in self.acked if at <= moment]
        return max(versions, default=0)

    def record(self, at: float, version: int) -> None:
        with self.lock:
            self.acked.append((at, version))


def version_of(title: str) -> int:
    match = _VERSION.match(title)
    return int(match.group(1)) if match else 0


class Writer:
    """A demo user, logged in over HTTP, editing one of their published posts."""

    def __init__(self, http: Http, post_id: int, author_id: int, log: WriteLog) -> None:
        self.http = http
        self.post_id = post_id
        self.author_id = author_id
        self.log = log
        self.cookie: str | None = None
        self.versions = itertools.count(1)
        self.replies: list[Reply] = []

    def login(self) -> Reply:
        reply = self.http.request(
            "POST",
            LOGIN,
            body={"email": f"user{self.author_id}@example.com", "password": DEMO_PASSWORD},
        )
        self.cookie = session_cookie(reply) or self.cookie
        return reply

    def write(self, label: str = "") -> Reply:
        version = next(self.versions)
        reply = self.http.request(
            "PATCH",
            f"{POSTS}/{self.post_id}",
            body={"title": f"v{version} {label}".strip()},
            cookie=self.cookie,
        )
        self.replies.append(reply)
        if reply.status == 200:
            self.log.record(reply.started + reply.elapsed, version)
        return reply


@dataclass
class StaleRead:
    probe: int
    path: str
    served: int
    expected_at_least: int


class Workload:
    """Anonymous reads of the list page and of the watched post, checked for staleness."""

    def __init__(self, http: Http, post_id: int, log: WriteLog) -> None:
        self.http = http
        self.post_id = post_id
        self.log = log
        self.paths = (POSTS, f"{POSTS}/{post_id}")
        self.stale: list[StaleRead] = []
        self._lock = threading.Lock()

    def served_version(self, reply: Reply) -> int | None:
        if reply.status != 200:
            return None
        data = reply.json()
        if reply.path == POSTS:
            titles = [item["title"] for item in data["data"] if item["id"] == self.post_id]
            return version_of(titles[0]) if titles else None
        return version_of(data["title"])

    def check(self, reply: Reply) -> None:
        served = self.served_version(reply)
        expected = self.log.latest_before(reply.started)
        if served is not None and served < expected:
            with self._lock:
                self.stale.append(StaleRead(reply.probe, reply.path, served, expected))

    def read_once(self) -> list[Reply]:
        replies = []
        for path in self.paths:
            reply = self.http.get(path)
            self.check(reply)
            replies.append(reply)
        return replies

    def run(
        self,
        seconds: float,
        writes_at: Sequence[float] = (),
        writer: Writer | None = None,
        pace: float = 0.0,
    ) -> list[Reply]:
        """Read for ``seconds``; ``writer`` writes once at each offset in ``writes_at``."""
        replies: list[Reply] = []
        pending = sorted(writes_at)
        started = time.perf_counter()
        while (now := time.perf_counter() - started) < seconds:
            if pending and writer is not None and now >= pending[0]:
                pending.pop(0)
                writer.write("during")
            replies += self.read_once()
            if pace:
                time.sleep(pace)  # keeps the request rate modest; not a clock
        return replies

    def warm(self, attempts: int = 20) -> list[Reply]:
        """Read until both paths are cache hits."""
        for _ in range(attempts):
            replies = self.read_once()
            if all(reply.x_cache == "HIT" for reply in replies):
                return replies
        raise AssertionError(f"no cache hits after {attempts} rounds: {replies}")

    def recover(self, healed_at: float, within: float, run: int = 10) -> float | None:
        """Seconds from ``healed_at`` to the first of ``run`` consecutive hits (None: never)."""
        streak: list[Reply] = []
        while time.perf_counter() - healed_at < within:
            for reply in self.read_once():
                streak = [*streak, reply] if reply.x_cache == "HIT" else []
            if len(streak) >= run:
                return streak[0].started - healed_at
            time.sleep(0.02)  # polling the service's recovery, not a clock
        return None


def pick_post(http: Http) -> tuple[int, int]:
    """(post id, author id) of a published post on the first page of the list."""
    reply = http.get(POSTS)
    assert reply.status == 200, reply
    first = reply.json()["data"][3]
    return int(first["id"]), int(first["author"]["id"])


# --- figures -----------------------------------------------------------------------------


def median_ms(replies: Sequence[Reply]) -> float:
    return statistics.median(reply.ms for reply in replies) if replies else 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def split_first_per_worker(
    replies: Sequence[Reply], workers: dict[int, int]
) -> tuple[list[Reply], list[Reply]]:
    """The first reply each worker served, and all the others (in sending order)."""
    seen: set[int] = set()
    firsts, rest = [], []
    for reply in sorted(replies, key=lambda r: r.started):
        pid = workers.get(reply.probe)
        if pid is not None and pid not in seen:
            seen.add(pid)
            firsts.append(reply)
        else:
            rest.append(reply)
    return firsts, rest


def latency_figures(
    baseline: Sequence[Reply], window: Sequence[Reply], workers: dict[int, int]
) -> dict[str, float]:
    base = median_ms(baseline)
    firsts, rest = split_first_per_worker(window, workers)
    extra = [reply.ms - base for reply in rest]
    return {
        "baseline_median_ms": round(base, 2),
        "workers_seen": len(firsts),
        "first_request_max_ms": round(max((r.ms for r in firsts), default=0.0), 1),
        "extra_p50_ms": round(percentile(extra, 0.5), 2),
        "extra_p95_ms": round(percentile(extra, 0.95), 2),
        "extra_max_ms": round(max(extra, default=0.0), 1),
    }


def five_xx(replies: Iterable[Reply], by_design: Callable[[Reply], bool] | None = None) -> int:
    return sum(
        1 for reply in replies if reply.status >= 500 and not (by_design and by_design(reply))
    )


def cache_states(replies: Iterable[Reply]) -> dict[str, int]:
    states: dict[str, int] = {}
    for reply in replies:
        states[reply.x_cache or "-"] = states.get(reply.x_cache or "-", 0) + 1
    return states


def redis_commands(client: Any) -> int:
    """Commands the server has executed so far (``INFO commandstats``)."""
    stats = client.info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())
