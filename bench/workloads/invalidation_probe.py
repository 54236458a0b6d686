"""Run in a subprocess by ``invalidation``: time tag invalidation against pattern deletion.

``python -m bench.workloads.invalidation_probe --redis-url URL --db PATH --sizes 0,100000
--reps 5`` prints one JSON document. For each size N it empties the (private) Redis, adds N
unrelated keys (``DEBUG POPULATE``), then per repetition (one more, unmeasured, first):
- the app: 500 list entries of ~15 KB tagged ``posts`` through the service cache
  (``cache.service.get_or_set``), then ``core.apply(["posts"])`` timed (the Redis
  side, what the issue bounds), and again with the durable ``cache.service.invalidate_tags``
  (journal row + commit + Redis); both verified (a hit before, a miss after);
- the recipe: 500 ``posts:list:page=N:limit=20`` keys of 15 KB, then ``SCAN MATCH
  posts:list:* COUNT 100`` + one pipelined DEL (``invalidatePattern``), timed.
The app is imported here, not in the bench process, so a broken app cannot stop the bench.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import redis

from bench import private_redis

ENTRIES = 500
PAYLOAD = {"data": "x" * 15_000, "meta": {"total": 1}}


def _fill_ours(service_cache: Any) -> None:
    for i in range(1, ENTRIES + 1):
        service_cache.get_or_set(
            f"posts:list:page={i}:limit=20", lambda: PAYLOAD, ttl=3600, tags=["posts"]
        )


def _cached(service_cache: Any, i: int) -> bool:
    called: list[int] = []

    def loader() -> dict[str, Any]:
        called.append(1)
        return PAYLOAD

    service_cache.get_or_set(f"posts:list:page={i}:limit=20", loader, ttl=3600, tags=["posts"])
    return not called


def time_ours(app: Any, reps: int) -> dict[str, Any]:
    from flask_response_cache.state import state_for

    from cache import service as service_cache

    core = state_for(app).core
    if not core.storage.shared:
        return {"skipped": "the app's cache is not on Redis"}
    core.distrust()
    redis_side: list[float] = []
    durable: list[float] = []
    verified = True
    for _ in range(reps + 1):  # the first repetition warms up and is dropped
        for invalidate, sink in (
            (lambda: core.apply(["posts"]), redis_side),
            (lambda: service_cache.invalidate_tags("posts"), durable),
        ):
            _fill_ours(service_cache)
            verified &= _cached(service_cache, 1) and _cached(service_cache, ENTRIES)
            started = time.perf_counter()
            invalidate()
            sink.append((time.perf_counter() - started) * 1000)
            verified &= not _cached(service_cache, 2)
    redis_side, durable = redis_side[1:], durable[1:]
    return {
        "redis_ms": statistics.median(redis_side), "redis_ms_all": redis_side,
        "durable_ms": statistics.median(durable), "durable_ms_all": durable,
        "verified": verified,
    }  # fmt: skip


def time_recipe(client: redis.Redis, reps: int) -> dict[str, Any]:
    value = b"x" * 15_000
    times: list[float] = []
    deleted = 0
    for _ in range(reps + 1):  # the first repetition warms up and is dropped
        pipe = client.pipeline(transaction=False)
        for i in range(1, ENTRIES + 1):
            pipe.set(f"posts:list:page={i}:limit=20", value, ex=3600)
        pipe.execute()
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        count = 0
        for key in client.scan_iter(match="posts:list:*", count=100):
            pipe.delete(key)
            count += 1
        if count:
            pipe.execute()
        times.append((time.perf_counter() - started) * 1000)
        deleted = count
    times = times[1:]
    return {"ms": statistics.median(times), "ms_all": times, "deleted": deleted}


def build_app(redis_url: str, db_path: str) -> Any:
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "REDIS_URL": redis_url,
            "CACHE_ENABLED": True,
            "RATELIMIT_ENABLED": False,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--sizes", default="0,100000,1000000")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis_url, socket_timeout=60)
    try:
        app = build_app(args.redis_url, args.db)
        app_error = None
    except Exception as exc:  # the app under construction may not import: report it
        app, app_error = None, f"{exc.__class__.__name__}: {exc}"
    out: dict[str, Any] = {"app_error": app_error, "sizes": {}}
    for size in (int(s) for s in args.sizes.split(",")):
        private_redis.empty(client)
        if size:
            client.execute_command("DEBUG", "POPULATE", size, "unrelated", 100)
            time.sleep(0.5)  # let the server finish growing its hash table (active rehashing)
        reps = args.reps if size < 1_000_000 else min(args.reps, 3)
        entry: dict[str, Any] = {"dbsize_before": client.dbsize()}
        if app is not None:
            with app.app_context():
                entry["app"] = time_ours(app, reps)
        entry["recipe_scan"] = time_recipe(client, reps)
        out["sizes"][str(size)] = entry
    print(json.dumps(out))


if __name__ == "__main__":
    main()
