"""Redis topologies as this app's environment names them: everything becomes one URL.

Contract: ``redis_url_from(env)`` returns the Redis URL the environment names, or None
(embedded mode). ``REDIS_URL`` (any form the response-cache package's grammar reads:
``redis://``, ``rediss://``, ``unix://``, ``redis[s]+cluster://h1:p1,h2:p2``,
``redis[s]+sentinel://s1:p1,s2:p2/<master>``), ``REDIS_CLUSTER_NODES`` and
``REDIS_SENTINELS`` (+ ``REDIS_SENTINEL_MASTER``) are exclusive; with none of them the
original recipe's ``REDIS_HOST`` / ``REDIS_PORT`` form builds a standalone URL.
``REDIS_PASSWORD`` and ``REDIS_TLS`` apply to every form but ``REDIS_URL``. Anything
malformed raises ``TopologyError`` (a ``ValueError``; ``config.py`` reports it as a
``ConfigError``) naming the variable.

A new *form of variables* is added here. A new *topology* (a URL scheme and its client)
is added in the package, ``flask_response_cache/redis_url.py`` and ``redis_client.py``,
and nowhere else: every Redis user of the app gets its client from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from flask_response_cache import RedisUrlError, parse_redis_url


class TopologyError(ValueError):
    """The Redis variables are contradictory or malformed."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise TopologyError(f"{name} must be true or false, got {env[name]!r}")


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("REDIS_PORT", "").strip() or "6379"
    if not raw.isdigit() or not 0 < int(raw) <= 65535:
        raise TopologyError(f"REDIS_PORT must be a port number (1-65535), got {raw!r}")
    return int(raw)


def redis_url_from(env: Mapping[str, str]) -> str | None:
    """One URL for every Redis topology, validated by the package's grammar.

    ``REDIS_URL``, ``REDIS_CLUSTER_NODES`` and ``REDIS_SENTINELS`` are exclusive;
    with none of them, the recipe's ``REDIS_HOST`` form builds a standalone URL.
    """
    given = [name for name in _REDIS_CHOICES if env.get(name, "").strip()]
    if len(given) > 1:
        raise TopologyError(f"set only one of {', '.join(given)}")
    url = env.get("REDIS_URL", "").strip()
    if not url:
        url = _cluster_or_sentinel_url(env) or _host_form_url(env) or ""
    if not url:
        return None
    try:
        parse_redis_url(url)  # malformed: fail at start-up, not at the first request
    except RedisUrlError as exc:
        raise TopologyError(str(exc)) from None
    return url


_REDIS_CHOICES = ("REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS")


def _auth(env: Mapping[str, str]) -> str:
    password = env.get("REDIS_PASSWORD", "")
    return f":{quote(password, safe='')}@" if password else ""


def _cluster_or_sentinel_url(env: Mapping[str, str]) -> str | None:
    tls = "s" if _flag(env, "REDIS_TLS") else ""
    nodes = env.get("REDIS_CLUSTER_NODES", "").strip()
    if nodes:
        return f"redis{tls}+cluster://{_auth(env)}{nodes}"
    sentinels = env.get("REDIS_SENTINELS", "").strip()
    master = env.get("REDIS_SENTINEL_MASTER", "").strip()
    if sentinels and not master:
        raise TopologyError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the master's name)")
    if sentinels:
        return f"redis{tls}+sentinel://{_auth(env)}{sentinels}/{quote(master, safe='')}"
    return None


def _host_form_url(env: Mapping[str, str]) -> str | None:
    host = env.get("REDIS_HOST", "").strip()
    if not host:
        return None
    port = _port(env)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address (RFC 3986 host syntax)
    scheme = "rediss" if _flag(env, "REDIS_TLS") else "redis"
    return f"{scheme}://{_auth(env)}{host}:{port}/0"
