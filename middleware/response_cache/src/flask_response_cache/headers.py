"""Header values the cache writes on its answers (pure; no Flask, no I/O).

- ``X-Cache: HIT|MISS|STALE|BYPASS``: the de-facto header clients of the
  original recipe read.
- ``Cache-Status`` (RFC 9211): ``<id>; hit; ttl=N`` on hits (``ttl`` is the
  remaining freshness, negative when a stale entry is served);
  ``<id>; fwd=uri-miss; stored`` or ``<id>; fwd=stale; stored`` on a miss
  that stored; ``<id>; fwd=bypass; detail=<reason>`` when the cache was not
  used (``fwd=method`` for unsafe methods); ``fwd-status`` carries the
  origin's status when a stale entry replaced an error (stale-if-error).
- ``Cache-Control`` matches the scope (RFC 9111 §5.2.2): ``public,
  max-age=<remaining fresh seconds>`` or ``private, max-age=...``, plus
  ``stale-while-revalidate`` / ``stale-if-error`` (RFC 5861) when the route
  sets them. A bypassed answer to a request with credentials gets
  ``private`` unless the view chose its own ``Cache-Control``.
- ``Vary``: ``Accept-Encoding`` (hits may be gzip), the route's vary
  headers, then ``Cookie, Authorization`` on every cached route: a per-user
  entry is selected by them, and a public entry is only ever served to
  requests *without* a session cookie or credentials (others bypass), so a
  downstream cache must not hand it to them either.
- ``Age`` (RFC 9111 §5.1): whole seconds since the entry was stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from .policy import USER

HIT = "HIT"
MISS = "MISS"
STALE = "STALE"
BYPASS = "BYPASS"


def cache_control(scope: str, remaining: int, swr: float = 0.0, sie: float = 0.0) -> str:
    value = f"{'private' if scope == USER else 'public'}, max-age={max(0, remaining)}"
    if swr > 0:
        value += f", stale-while-revalidate={int(swr)}"
    if sie > 0:
        value += f", stale-if-error={int(sie)}"
    return value


def vary_names(route_vary: Sequence[str]) -> tuple[str, ...]:
    names = ["Accept-Encoding", *route_vary, "Cookie", "Authorization"]
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.lower(), name)
    return tuple(unique.values())


def cache_status(
    identifier: str,
    *,
    hit: bool = False,
    fwd: str | None = None,
    fwd_status: int | None = None,
    stored: bool = False,
    ttl: int | None = None,
    detail: str | None = None,
) -> str:
    """One RFC 9211 list member: ``identifier`` and its parameters, in RFC order."""
    params = [identifier]
    if hit:
        params.append("hit")
    if fwd:
        params.append(f"fwd={fwd}")
    if fwd_status is not None:
        params.append(f"fwd-status={fwd_status}")
    if stored:
        params.append("stored")
    if ttl is not None:
        params.append(f"ttl={ttl}")
    if detail:
        params.append(f"detail={detail}")
    return "; ".join(params)
