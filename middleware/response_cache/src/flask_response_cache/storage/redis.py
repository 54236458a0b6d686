"""The Redis backend: one round trip per operation, atomic Lua where it counts.

Contract: see ``storage.py``. Every ``redis.RedisError`` is caught here and
raised as ``StorageUnavailable``: the cache above never sees a Redis
exception. An optional circuit breaker (any object with ``allow()``,
``record_success()``, ``record_failure()`` and ``trip()``; the app shares one
per process between the caches, sessions and the limiter) is consulted first,
so a dead or hung Redis costs one short timeout, then nothing.

``connection_generation()`` counts the server incarnations this client has
connected to. Each new connection reads the server's ``run_id`` (``INFO
server``; it changes on every restart and differs between a failed master
and its replacement): a run_id other than the last one seen, or one that
cannot be read, bumps the counter, because the server may have restarted
(possibly from an older snapshot) or failed over, and the cache re-verifies
its epoch before it trusts anything it reads. A pool merely opening more
connections to the same server (concurrent requests) bumps nothing. The
counter is fed by redis-py's ``redis_connect_func`` hook on the client's
pool; on a cluster client (one that has ``user_on_connect_func``, which
redis-py calls after setting up each new connection to any node, nodes
discovered later included) by that callback, with the last run_id kept per
node address.

Works with a standalone ``redis.Redis`` or a Sentinel master client; a
``RedisCluster`` client works as well because every key of the namespace is in
one hash slot (see ``layout.py``).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import redis

from ..layout import Layout
from . import TAG_RETENTION_MS, PartialFailure, StorageUnavailable, scripts

T = TypeVar("T")


class Breaker(Protocol):
    @property
    def is_open(self) -> bool: ...
    def allow(self) -> bool: ...
    def record_success(self) -> None: ...
    def record_failure(self) -> None: ...
    def trip(self) -> None: ...
    def on_close(self, listener: Callable[[], None]) -> None: ...


_RUN_ID = re.compile(rb"run_id:([0-9a-fA-F]+)")


def _server_run_id(connection: Any) -> bytes | None:
    """The server's run_id, read on a fresh connection; None if the server refuses INFO.

    A timeout or a broken connection propagates: redis-py then closes the
    connection (an unread reply left on it would answer the next command).
    """
    try:
        connection.send_command("INFO", "server")
        info = connection.read_response()
    except redis.ResponseError:  # e.g. an ACL without INFO: the reply was read in full
        return None
    raw = info.encode() if isinstance(info, str) else info
    found = _RUN_ID.search(raw) if isinstance(raw, bytes) else None
    return found.group(1) if found else None


def _send_raw(pool: Any, wire: list[tuple[Any, ...]]) -> list[Any]:
    """Write ``wire`` on one pooled connection and read every reply (what redis-py's
    pipeline does, without its bookkeeping). Error replies are returned, not raised;
    a connection error disconnects the connection (a reply may be left unread) and
    raises."""
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(wire))
        results: list[Any] = []
        for _ in wire:
            try:
                results.append(connection.read_response())
            except redis.ResponseError as exc:  # the reply was read in full
                results.append(exc)
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    return results


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStorage:
    shared = True

    def __init__(
        self, client: Any, layout: Layout | None = None, breaker: Breaker | None = None
    ) -> None:
        self.client = client
        self.layout = layout or Layout()
        self.breaker = breaker
        self._connections = itertools.count(1)
        self._generation = 0
        self._run_ids: dict[str, bytes | None] = {}  # "" or a cluster node's "host:port"
        self._generation_lock = threading.Lock()
        self._scripts = {
            name: client.register_script(source)
            for name, source in (
                ("acquire", scripts.ACQUIRE),
                ("claim", scripts.CLAIM),
                ("peek_claim", scripts.PEEK_CLAIM),
                ("release", scripts.RELEASE),
                ("store", scripts.STORE),
                ("invalidate", scripts.INVALIDATE),
                ("verify", scripts.VERIFY),
            )
        }
        self._hook_connections()
        # get_with writes on a pooled connection itself; a cluster client (checked the way
        # _hook_connections does, without building a lazy one) gets a redis-py pipeline.
        self._pool: Any = (
            None
            if hasattr(client, "user_on_connect_func")
            else getattr(client, "__dict__", {}).get("connection_pool")
        )

    # -- connection tracking ------------------------------------------------

    def _hook_connections(self) -> None:
        if hasattr(self.client, "user_on_connect_func"):  # a cluster: checked first
            previous = self.client.user_on_connect_func
            self.client.user_on_connect_func = self._connect_hook(previous, cluster=True)
            return
        if hasattr(self.client, "connection_pool"):
            pool = self.client.connection_pool
            previous = pool.connection_kwargs.get("redis_connect_func")
            pool.connection_kwargs["redis_connect_func"] = self._connect_hook(previous)

    def _connect_hook(
        self, previous: Callable[[Any], None] | None, cluster: bool = False
    ) -> Callable[[Any], None]:
        def on_connect(connection: Any) -> None:
            if previous is not None:
                previous(connection)
            elif not cluster:  # the cluster client has set the connection up already
                connection.on_connect()
            run_id = _server_run_id(connection)
            node = f"{connection.host}:{connection.port}" if cluster else ""
            with self._generation_lock:
                if run_id is None or run_id != self._run_ids.get(node):
                    self._run_ids[node] = run_id
                    self._generation = next(self._connections)

        return on_connect

    def connection_generation(self) -> int:
        return self._generation

    def known_down(self) -> bool:
        """Whether this process already knows the server is unreachable (circuit open)."""
        return self.breaker is not None and self.breaker.is_open

    def refuses_connections(self) -> bool:
        """Whether the server refuses connections now, asked past the circuit (one PING).

        True only for a standalone or Sentinel client whose PING was refused: no server
        is listening, so every process's next read needs a new connection, and a new
        connection ends its trust lease. A timeout, an answer or a cluster (another
        node may serve the key) is False.
        """
        if self._pool is None:
            return False
        try:
            self.client.ping()
        except redis.TimeoutError:
            return False
        except redis.ConnectionError:
            return True
        except redis.RedisError:
            return False
        return False

    def on_recovery(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when the server answers again after an outage."""
        if self.breaker is not None:
            self.breaker.on_close(listener)

    # -- the error funnel ---------------------------------------------------

    def _run(self, operation: Callable[[], T]) -> T:
        breaker = self.breaker
        if breaker is not None and not breaker.allow():
            raise StorageUnavailable("circuit open")
        try:
            result = operation()
        except (redis.TimeoutError, redis.ConnectionError) as exc:
            # A hung or gone server: one timeout (or refusal) is evidence enough.
            if breaker is not None:
                breaker.trip()
            raise StorageUnavailable(str(exc)) from exc
        except redis.RedisError as exc:
            if breaker is not None:
                breaker.record_failure()
            raise StorageUnavailable(str(exc)) from exc
        if breaker is not None:
            breaker.record_success()
        return result

    # -- protocol -----------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self._run(lambda: self.client.get(key))
        return value

    def get_with(
        self, key: str, commands: Sequence[tuple[Any, ...]]
    ) -> tuple[bytes | None, list[Any]]:
        """GET ``key`` and run ``commands`` (raw argument tuples) in the same round trip.

        The commands are sent right behind the GET on one pooled connection (a
        non-transactional pipeline: they may touch other cluster slots than the
        namespace's); their raw replies come back in order, an error reply as its
        exception object. A failed GET alone raises ``PartialFailure`` carrying
        them. On a standalone or Sentinel client this writes the packed commands
        and reads the replies on a connection of the client's own pool (redis-py's
        ``Pipeline`` costs about as much again as the round trip on a hit path); on
        a cluster client it is a redis-py pipeline.
        """
        if not commands:
            return self.get(key), []
        results = self._send([("GET", key), *commands])
        value, extras = results[0], list(results[1:])
        if isinstance(value, Exception):
            raise PartialFailure(str(value), extras)
        return value, extras

    def peek_claim(
        self, epoch: str, name: str, token: str, lock_ms: int, commands: Sequence[tuple[Any, ...]]
    ) -> tuple[bytes | None, bool, int, list[Any]]:
        """``(entry, locked, snapshot, extras)``: the entry of ``name``; when there is
        none, the fill lock under ``token`` is taken in the same step (``locked``, with
        the generation ``snapshot`` read under it). ``commands`` ride along as in
        ``get_with``. The caller must release a lock it took and does not use.

        Sent as a raw ``EVALSHA``; a server that lost its scripts (restart, failover)
        answers NOSCRIPT without running anything, and the script then runs through
        redis-py's ``Script`` (which loads it) in a second round trip.
        """
        layout = self.layout
        keys = [layout.entry(epoch, name), layout.lock(epoch, name), layout.generation(epoch)]
        script = self._scripts["peek_claim"]
        results = self._send([("EVALSHA", script.sha, 3, *keys, token, lock_ms), *commands])
        reply, extras = results[0], list(results[1:])
        if isinstance(reply, redis.exceptions.NoScriptError):
            try:
                reply = self._run(lambda: script(keys=keys, args=[token, lock_ms]))
            except StorageUnavailable as exc:  # the commands did run: keep their replies
                raise PartialFailure(str(exc), extras) from exc
        elif isinstance(reply, Exception):
            raise PartialFailure(str(reply), extras)
        if int(reply[0]) == 2:
            return reply[2], False, 0, extras
        return None, int(reply[0]) == 1, int(reply[1]), extras

    def _send(self, wire: list[tuple[Any, ...]]) -> list[Any]:
        """Every reply to ``wire``, sent in one round trip (see ``get_with``)."""
        pool = self._pool
        if pool is None:
            return self._run(lambda: self._pipelined(wire))
        return self._run(lambda: _send_raw(pool, wire))

    def _eval(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The reply of script ``name``: a raw ``EVALSHA`` on the client's own pool (redis-py's
        ``Script`` call costs as much again in Python: a list page's store carries two keys
        per tag); a server that lost its scripts (NOSCRIPT: nothing ran) gets it through
        ``Script``, which loads it. An error reply counts against the breaker like a raised
        one (``_run``)."""
        script = self._scripts[name]
        pool = self._pool
        if pool is None:
            return self._run(lambda: script(keys=keys, args=args))
        wire = [("EVALSHA", script.sha, len(keys), *keys, *args)]

        def call() -> Any:
            reply = _send_raw(pool, wire)[0]
            if isinstance(reply, redis.exceptions.NoScriptError):
                return script(keys=keys, args=args)
            if isinstance(reply, Exception):
                raise reply  # inside _run, so the breaker counts it once, as a failure
            return reply

        return self._run(call)

    def _pipelined(self, wire: list[tuple[Any, ...]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for command in wire:
            pipe.execute_command(*command)
        results: list[Any] = pipe.execute(raise_on_error=False)
        return results

    def acquire(self, epoch: str, name: str, token: str, lock_ms: int) -> tuple[bool, int]:
        keys = [self.layout.lock(epoch, name), self.layout.generation(epoch)]
        acquired, generation = self._eval("acquire", keys, [token, lock_ms])
        return bool(acquired), int(generation)

    def claim(
        self, epoch: str, name: str, token: str, lock_ms: int
    ) -> tuple[bool, int, bytes | None]:
        layout = self.layout
        keys = [layout.lock(epoch, name), layout.generation(epoch), layout.entry(epoch, name)]
        reply = self._eval("claim", keys, [token, lock_ms])
        entry = reply[2] if len(reply) > 2 else None  # Lua's false ends the array early
        return bool(reply[0]), int(reply[1]), entry or None

    def release(self, epoch: str, name: str, token: str) -> None:
        key = self.layout.lock(epoch, name)
        self._eval("release", [key], [token])

    def _tag_keys(self, epoch: str, tags: Sequence[str]) -> list[str]:
        keys: list[str] = []
        for tag in tags:
            keys += [self.layout.tag_generation(epoch, tag), self.layout.members(epoch, tag)]
        return keys

    def store(self, epoch: str, name: str, value: bytes, retention_ms: int,
              tags: Sequence[str], snapshot: int, release: str = "") -> str:  # fmt: skip
        layout = self.layout
        keys = [layout.epoch, layout.entry(epoch, name), layout.lock(epoch, name)]
        keys += self._tag_keys(epoch, tags)
        args = [epoch, snapshot, value, retention_ms, release]
        return _text(self._eval("store", keys, args))

    def invalidate(self, epoch: str, tags: Sequence[str], seq: int) -> str:
        keys = [
            self.layout.epoch,
            self.layout.generation(epoch),
            self.layout.seq,
            *self._tag_keys(epoch, tags),
        ]
        args = [epoch, seq, TAG_RETENTION_MS]
        return _text(self._eval("invalidate", keys, args))

    def verify(self, max_applied: int, new_epoch: str) -> str:
        keys = [self.layout.epoch, self.layout.seq]
        return _text(self._eval("verify", keys, [max_applied, new_epoch]))

    def delete(self, keys: Sequence[str]) -> int:
        prefix = self.layout.prefix
        if any(not key.startswith(prefix) for key in keys):
            raise ValueError("refusing to delete keys outside the cache namespace")
        if not keys:
            return 0
        return int(self._run(lambda: self.client.unlink(*keys)))

    def scan(self, match: str, limit: int) -> list[str]:
        if not match.startswith(self.layout.prefix):
            raise ValueError("refusing to scan outside the cache namespace")

        def collect() -> list[str]:
            found: list[str] = []
            for key in self.client.scan_iter(match=match, count=1000):
                found.append(_text(key))
                if len(found) >= limit:
                    break
            return found

        return self._run(collect)

    def hash_get_all(self, key: str) -> dict[str, bytes]:
        raw = self._run(lambda: self.client.hgetall(key))
        return {_text(k): v for k, v in raw.items()}

    def hash_set(self, key: str, field: str, value: bytes) -> None:
        self._run(lambda: self.client.hset(key, field, value))

    def hash_incr(self, key: str, increments: dict[str, int]) -> None:
        def send() -> None:
            pipe = self.client.pipeline(transaction=False)
            for field, amount in increments.items():
                pipe.hincrby(key, field, amount)
            pipe.execute()

        if increments:
            self._run(send)

    def incr(self, key: str) -> int:
        return int(self._run(lambda: self.client.incr(key)))

    def get_int(self, key: str) -> int:
        value = self._run(lambda: self.client.get(key))
        return int(value) if value is not None else 0
