"""Memory: Redis bytes per cached entry against the body it serves (``MEMORY USAGE``).

Method: empty the bench's own Redis, wait past the app's trust lease and wake it with one
request, then for 10 list pages and 10 posts of the hit mix: list the keys, GET the URL once
(cold), list the keys again; the new keys under the target's prefix are what that one
response cost. For the app the entries are ``{rc}:e:*``: the response's (named ``http:...``)
is judged against the issue's bound ``1.2 x body + 256`` bytes; the service cache's value for
the same data is reported beside it (``other_entries_over_body``). Flask-Caching (``fc:``) and the
recipe (``http:`` + ``posts:``) are measured the same way for comparison. A GET with
``Accept-Encoding: gzip`` records whether the app serves large bodies compressed.
"""

from __future__ import annotations

import time
from typing import Any

from bench import private_redis, probe
from bench.dataset import HEALTH_PATH
from bench.runner import Bench

PREFIXES = {
    "app": ("{rc}:",),
    "flask-caching": ("fc:",),
    "express": ("http:", "posts:"),
}
ENTRY_PREFIX = {"app": ("{rc}:e:",), "flask-caching": ("fc:",), "express": ("http:", "posts:")}
# Which entries hold the HTTP response (the bound is about those): the app names them
# "http:..." inside its entry keys (its service cache shares the namespace with other names).
RESPONSE_MARKER = {"app": ":http:", "flask-caching": "fc:", "express": "http:"}


def _keys(bench: Bench, prefixes: tuple[str, ...]) -> set[bytes]:
    client = bench.redis_client()
    found: set[bytes] = set()
    for prefix in prefixes:
        found.update(client.scan_iter(match=_glob_escape(prefix) + "*", count=1000))
    return found


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _measure(bench: Bench, target: str, path: str) -> dict[str, Any]:
    client = bench.redis_client()
    before = _keys(bench, PREFIXES[target])
    reply = probe.fetch(bench.peers[target].port, path)
    if target == "express":
        time.sleep(0.05)  # the recipe stores fire-and-forget, after answering
    new = sorted(_keys(bench, PREFIXES[target]) - before)
    entry_prefix = tuple(p.encode() for p in ENTRY_PREFIX[target])
    usage = {k.decode(): int(client.memory_usage(k, samples=0) or 0) for k in new}
    entries = {k: v for k, v in usage.items() if k.encode().startswith(entry_prefix)}
    responses = [v for k, v in entries.items() if RESPONSE_MARKER[target] in k]
    body = len(reply.body)
    # Without a recognisable response entry (names changed), judge the largest entry.
    judged = max(responses or list(entries.values()), default=0)
    return {
        "path": path, "status": reply.status, "body_bytes": body,
        "new_keys": len(new), "entry_keys": len(entries),
        "response_entry_bytes": judged, "response_entry_found": bool(responses),
        "other_entry_bytes": sum(entries.values()) - judged,
        "all_new_keys_bytes": sum(usage.values()),
        "bound_bytes": 1.2 * body + 256,
        "within_bound": bool(entries) and judged <= 1.2 * body + 256,
    }  # fmt: skip


def run(bench: Bench) -> dict[str, Any]:
    targets = bench.available(tuple(PREFIXES))
    lists = [p for p in bench.hit_urls if "?" in p][:10]
    singles = [p for p in bench.hit_urls if "?" not in p][:10]
    private_redis.empty(bench.redis_client())
    time.sleep(1.0)  # past the app's trust lease: it re-verifies and starts a new epoch
    for target in targets:
        probe.fetch(bench.peers[target].port, HEALTH_PATH)
    result: dict[str, Any] = {}
    for target in targets:
        samples = [_measure(bench, target, p) for p in [*lists, *singles]]
        stored = [s for s in samples if s["entry_keys"]]
        result[target] = {
            "samples": samples,
            "stored": len(stored),
            "entry_over_body": _ratio(stored, "response_entry_bytes"),
            "other_entries_over_body": _ratio(stored, "other_entry_bytes"),
            "all_keys_over_body": _ratio(stored, "all_new_keys_bytes"),
            "within_bound": bool(stored) and all(s["within_bound"] for s in stored),
        }
        if not stored:
            bench.note(f"memory: {target} stored nothing for 20 cold GETs")
    if "app" in targets:
        reply = probe.fetch(bench.peers["app"].port, lists[0], headers={"Accept-Encoding": "gzip"})
        result["app_compression"] = {
            "path": lists[0],
            "content_encoding": reply.headers.get("content-encoding"),
            "bytes_on_wire": len(reply.body),
        }
    return result


def _ratio(samples: list[dict[str, Any]], field: str) -> float | None:
    body = sum(s["body_bytes"] for s in samples)
    return sum(s[field] for s in samples) / body if body else None
