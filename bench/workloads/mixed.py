"""Mixed: Zipf reads over posts and list pages with 5% authenticated writes, plus a checker.

Method:
- Reads: Zipf (s=1) over 50 list pages and 2,000 published posts, popularity order shuffled
  with a fixed seed. Writes (5%): ``PATCH /api/v1/posts/<id>`` with a new title, as the post's
  author (demo users 2..17, logged in once per target with the seeded password), on their
  published posts, Zipf-weighted. The 50,000-request sequence is the same for every target
  (only the session cookies differ) and wrk replays it round robin (``mixed.lua``).
- Checker (zero stale reads): during every run a thread PATCHes posts of users 18..19 that
  sit on list pages 1..50, and right after each 2xx reads the post and its list page back;
  any other title than the one just written is a stale read.
- Targets: the app, and Flask-Caching whose writes invalidate like the recipe (DEL the post's
  key, SCAN MATCH the list keys COUNT 100, DEL). Redis is emptied before the workload.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

from bench import private_redis, probe
from bench.dataset import LIST_PAGES, Zipf, list_path, page_of, post_path
from bench.load import LoadSpec
from bench.runner import Bench, RunRecord, interleaved, records, summarise

TARGETS = ("app", "flask-caching")
DEMO_PASSWORD = "demo-password"  # cli.DEMO_PASSWORD: every seeded user's password
WRITERS = range(2, 18)
CHECKERS = range(18, 20)
SEQUENCE = 50_000
WRITE_SHARE = 0.05
SEED = 11


def login(port: int, user_id: int) -> str | None:
    body = json.dumps({"email": f"user{user_id}@example.com", "password": DEMO_PASSWORD})
    reply = probe.fetch(port, "/api/v1/auth/login", "POST",
                        {"Content-Type": "application/json"}, body.encode())  # fmt: skip
    return probe.session_cookie(reply) if reply.status == 200 else None


def build_sequence(bench: Bench) -> list[tuple[str, str, int | None, str]]:
    """(kind, path, author or None, body) for every request, identical for every target."""
    rng = random.Random(SEED)
    posts = rng.sample(sorted(bench.published), 2000)
    universe = [list_path(p) for p in range(1, LIST_PAGES + 1)] + [post_path(p) for p in posts]
    rng.shuffle(universe)
    writable = [p for p in bench.published if bench.authors[p] in WRITERS]
    rng.shuffle(writable)
    reads, writes = Zipf(len(universe), 1.0, SEED), Zipf(len(writable), 1.0, SEED + 1)
    sequence: list[tuple[str, str, int | None, str]] = []
    for i in range(SEQUENCE):
        if rng.random() < WRITE_SHARE:
            post = writable[writes.sample()]
            body = json.dumps({"title": f"mixed write {i}"})
            sequence.append(("P", post_path(post), bench.authors[post], body))
        else:
            sequence.append(("G", universe[reads.sample()], None, ""))
    return sequence


def write_requests(path: Path, sequence: list[tuple[str, str, int | None, str]],
                   cookies: dict[int, str]) -> None:  # fmt: skip
    lines = []
    for kind, url, author, body in sequence:
        if kind == "G":
            lines.append(f"G\t{url}")
        else:
            assert author is not None
            lines.append(f"P\t{url}\t{cookies[author]}\t{body}")
    path.write_text("\n".join(lines) + "\n")


class Checker(threading.Thread):
    """Write, then read back at once; counts stale answers (see the module docstring)."""

    def __init__(self, port: int, posts: list[tuple[int, int, str]], label: str) -> None:
        super().__init__(daemon=True)
        self.port, self.posts, self.label = port, posts, label
        self.halt = threading.Event()
        self.counts = {"writes": 0, "write_errors": 0, "reads": 0, "stale": 0, "read_errors": 0}
        self.examples: list[str] = []

    def _read(self, path: str, post_id: int, title: str) -> None:
        reply = probe.fetch(self.port, path)
        if reply.status != 200:
            self.counts["read_errors"] += 1
            return
        doc = reply.json()
        items = doc.get("data", [doc])
        seen = next((p["title"] for p in items if p["id"] == post_id), None)
        self.counts["reads"] += 1
        if seen != title:
            self.counts["stale"] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{path}: wrote {title!r}, read {seen!r}")

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            post_id, page, cookie = self.posts[n % len(self.posts)]
            n += 1
            title = f"check {self.label} {n}"
            headers = {"Content-Type": "application/json", "Cookie": cookie}
            try:
                reply = probe.fetch(self.port, post_path(post_id), "PATCH", headers,
                                    json.dumps({"title": title}).encode())  # fmt: skip
                if reply.status != 200:
                    self.counts["write_errors"] += 1
                    continue
                self.counts["writes"] += 1
                self._read(post_path(post_id), post_id, title)
                self._read(list_path(page), post_id, title)
            except OSError:
                self.counts["read_errors"] += 1


def _checker_posts(bench: Bench, cookies: dict[int, str]) -> list[tuple[int, int, str]]:
    front = bench.published[: LIST_PAGES * 20]
    chosen = [p for p in front if bench.authors[p] in CHECKERS][:10]
    return [(p, page_of(bench.published, p), cookies[bench.authors[p]]) for p in chosen]


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(TARGETS)
    private_redis.empty(bench.redis_client())
    sequence = build_sequence(bench)
    prepared: dict[str, tuple[Path, list[tuple[int, int, str]]]] = {}
    for target in targets:
        port = bench.peers[target].port
        users = {*WRITERS, *CHECKERS}
        cookies = {u: c for u in users if (c := login(port, u)) is not None}
        if len(cookies) != len(users):
            bench.note(f"mixed: {target}: {len(users) - len(cookies)} logins failed; skipped")
            continue
        path = bench.tmp / f"mixed-{target}.txt"
        write_requests(path, sequence, cookies)
        prepared[target] = (path, _checker_posts(bench, cookies))
    plan = bench.plan

    def run_one(target: str, round_no: int) -> RunRecord | None:
        path, posts = prepared[target]
        checker = Checker(bench.peers[target].port, posts, f"{target} r{round_no}")
        checker.start()
        spec = LoadSpec(bench.peers[target].port, path, plan.mixed_duration, 16, "mixed.lua")
        try:
            record = bench.measure(target, spec, round_no)
        finally:
            checker.halt.set()
            checker.join(timeout=30)
        record.checks = {**checker.counts, "examples": checker.examples}
        print(
            f"    {target:24s} r{round_no} {record.rps:8.0f} req/s (mixed)  non2xx "
            f"{record.non2xx}  checker {checker.counts}"
        )
        return record

    table = interleaved(list(prepared), plan.mixed_rounds, run_one)
    stale = {t: sum(r[t].checks["stale"] for r in table if t in r) for t in prepared}
    return {
        "requests_in_sequence": len(sequence),
        "write_share": sum(1 for s in sequence if s[0] == "P") / len(sequence),
        "stale_reads": stale,
        "summary": summarise(table, list(prepared)),
        "runs": records(table),
    }
