"""Emptying the benchmark's own redis-server between stages, without FLUSHALL.

Contract: ``empty(client)`` removes every key of the server the bench started
for itself (SCAN in batches + UNLINK), and refuses outright to touch the
machine's shared Redis on port 6379. The project's rule is that nothing runs
KEYS, FLUSHDB or FLUSHALL, and the bench follows it too: a bounded,
non-blocking scan costs a second at a million keys, which the bench can pay.
"""

from __future__ import annotations

import redis

SHARED_PORT = 6379


def empty(client: redis.Redis) -> None:
    port = int(client.connection_pool.connection_kwargs.get("port", SHARED_PORT))
    if port == SHARED_PORT:
        raise RuntimeError("refusing to empty the shared Redis on 6379")
    batch: list[bytes] = []
    for key in client.scan_iter(count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)
