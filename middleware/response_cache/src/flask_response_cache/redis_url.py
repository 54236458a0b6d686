"""The Redis URL grammar: one URL names any topology (pure: redis-py is not imported).

Contract:

- ``parse_redis_url(url)`` reads the topology from the URL, or raises
  ``RedisUrlError`` (a ``ValueError``) naming what is wrong:

  ==========================================  ==========================================
  ``redis://[user:pass@]host:port/db``        one server (``rediss://``: TLS)
  ``unix:///path/to/redis.sock``              one server on a socket
  ``redis+sentinel://[auth@]s1:p1,s2:p2/M``   the master ``M`` the Sentinels watch
  ``redis+cluster://[auth@]h1:p1,h2:p2``      a Cluster (seed nodes; the rest are found)
  ==========================================  ==========================================

  ``rediss+sentinel://`` and ``rediss+cluster://`` add TLS to the data nodes. These are
  the URI forms the ``limits`` library uses too. To add a topology, add its scheme here
  and its client in ``redis_client.connect``: nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

STANDALONE = "standalone"
CLUSTER = "cluster"
SENTINEL = "sentinel"


class RedisUrlError(ValueError):
    """A Redis URL this package cannot connect with."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where Redis is. ``standalone``: ``url`` as redis-py reads it. ``cluster``: seed
    ``nodes`` (the rest are discovered). ``sentinel``: the Sentinels' ``nodes`` and the
    ``master`` name they watch. Credentials and TLS apply to the data nodes."""

    topology: str
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_redis_url(url: str) -> RedisTarget:
    """The topology ``url`` names; ``RedisUrlError`` when it is malformed."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator:
        raise RedisUrlError(f"Redis URL must start with a scheme such as redis://, got {url!r}")
    if scheme in {"redis", "rediss", "unix"}:
        return RedisTarget(STANDALONE, url)
    base, _, kind = scheme.partition("+")
    if base not in {"redis", "rediss"} or kind not in {CLUSTER, SENTINEL}:
        raise RedisUrlError(
            "Redis URL scheme must be redis, rediss, unix, redis+cluster or redis+sentinel,"
            f" got {scheme!r}"
        )
    location, _, path = rest.partition("/")
    userinfo, _, hosts = location.rpartition("@")
    username, _, password = userinfo.partition(":")
    path = unquote(path.partition("?")[0])
    if kind == CLUSTER and path not in {"", "0"}:
        raise RedisUrlError("a Redis Cluster has only database 0")
    if kind == SENTINEL and not path:
        raise RedisUrlError("a redis+sentinel URL names the master: redis+sentinel://h:p/<master>")
    return RedisTarget(
        kind,
        url,
        nodes=_nodes(hosts),
        master=path if kind == SENTINEL else None,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=base == "rediss",
    )


def _nodes(text: str) -> tuple[tuple[str, int], ...]:
    nodes = []
    for item in (part.strip() for part in text.split(",")):
        host, colon, port = item.rpartition(":")
        host = host.strip("[]")  # IPv6 in brackets
        if not (colon and host and port.isdigit() and 0 < int(port) <= 65535):
            raise RedisUrlError(f"Redis nodes must be host:port[,host:port...], got {text!r}")
        nodes.append((host, int(port)))
    return tuple(nodes)
