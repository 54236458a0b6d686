"""A local three-master Redis Cluster for tests, on free loopback ports.

``LocalCluster(workdir).start()`` runs one ``redis-server --cluster-enabled yes`` per
master (each in its own directory, ``--cluster-config-file nodes-PORT.conf``), joins
them with ``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`` and
waits until every node reports ``cluster_state:ok``. ``url`` is the app's
``redis+cluster://`` form; ``node_for(key)`` names the master serving a key's slot;
``stop()`` terminates every node. Each node is a ``RedisServer``, so a test can kill
or hang one. Nothing here touches a shared Redis.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis
from redis.cluster import key_slot

from tests.support.redis_server import RedisServer

# The cluster bus listens on port + 10000, which must be free (and below 65536) too.
_BUS_OFFSET = 10000
_CREATE_OPTIONS = ("--cluster-replicas", "0", "--cluster-yes")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: set[int]) -> int:
    """A port whose cluster-bus twin is free as well."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 40000)
        if port in taken or port + _BUS_OFFSET in taken:
            continue
        if _is_free(port) and _is_free(port + _BUS_OFFSET):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def redis_cli_binary() -> str:
    found = shutil.which("redis-cli")
    if found is None:  # pragma: no cover - setup error
        raise RuntimeError("redis-cli is not on PATH (it ships with redis-server)")
    return found


class LocalCluster:
    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.workdir = workdir
        taken: set[int] = set()
        self.nodes: list[RedisServer] = []
        for _ in range(masters):
            port = cluster_port(taken)
            taken.add(port)
            args = (
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "2000",
            )  # fmt: skip
            self.nodes.append(RedisServer(workdir / f"node-{port}", port=port, extra_args=args))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def node_list(self) -> str:
        """The ``REDIS_CLUSTER_NODES`` form."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout: float = 30.0) -> LocalCluster:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [redis_cli_binary(), "--cluster", "create", *addresses, *_CREATE_OPTIONS],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        self._wait_ok(timeout)
        return self

    def _wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._state(node) == "ok" for node in self.nodes):
                return
            time.sleep(0.05)  # polling the cluster's own convergence, not a clock
        raise RuntimeError(f"cluster not ok after {timeout}s")

    @staticmethod
    def _state(node: RedisServer) -> str:
        try:
            info = node.client(timeout=0.5).execute_command("CLUSTER", "INFO")
        except redis.RedisError:
            return "down"
        text = info.decode() if isinstance(info, bytes) else str(info)
        for line in text.splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return "unknown"

    def node_for(self, key: str) -> RedisServer:
        """The master serving ``key``'s hash slot (from ``CLUSTER SLOTS``)."""
        slot = key_slot(key.encode())
        for start, end, master, *_ in self.nodes[0].client().execute_command("CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                port = int(master[1])
                return next(node for node in self.nodes if node.port == port)
        raise LookupError(f"no node serves slot {slot}")

    def keys_by_node(self) -> dict[int, list[bytes]]:
        """Every key on every node (tests only: a cluster of throwaway nodes)."""
        return {node.port: sorted(node.client().scan_iter(count=1000)) for node in self.nodes}

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
