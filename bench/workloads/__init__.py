"""The workloads, one module each; ``run(bench) -> dict`` is every module's contract.

The returned dict is the workload's section of ``latest.json``. A workload that cannot run
(a peer missing, a feature not built yet) returns ``{"skipped": "<why>"}`` and notes it.
Order matters and is fixed by ``ORDER``: ``redis-down`` kills the bench's Redis, so it is last.
"""

from __future__ import annotations

ORDER = (
    "hit", "hit-single", "factors", "workers", "scaling", "latency", "miss", "stampede",
    "memory", "mixed", "invalidation", "sessions", "redis-down",
)  # fmt: skip
