"""The service-level cache: the recipe's cache-aside calls, on the response cache's
value cache (``flask_response_cache``: one core for responses and values, so one tag
invalidation clears both).

Contract:
- ``get_or_set(key, loader, ttl, tags=...)``: the package's ``get_or_set`` (single-flight,
  stale serving, stale-set guard; ``None`` never cached; the loader runs directly inside
  a response fill, counted ``skipped``: D30). ``tags`` may be a function of the value.
- ``depends_on(*tags)`` gives tags the data revealed to the response being filled.
- ``invalidate(*keys)`` and ``invalidate_tags(*tags)`` are durable: they go through the
  journal like a write.
- ``invalidate_pattern(pattern)`` is an operator tool: a bounded SCAN confined to the
  cache's namespace, with a dry run; not journaled (tags are for correctness, patterns
  for housekeeping).
- Keys follow the recipe's conventions (``posts:list:page=1:limit=20``,
  ``posts:single:42``, ``users:7:posts:page=1:limit=20``) and may not start with
  ``http:`` (the response cache's names).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from flask_response_cache import add_response_tags

from cache import invalidation
from extensions import response_cache

T = TypeVar("T")


def get_or_set(
    key: str,
    loader: Callable[[], T],
    ttl: float,
    tags: Sequence[str] | Callable[[T], Sequence[str]] = (),
    stale_while_revalidate: float = 0.0,
    stale_if_error: float = 0.0,
) -> T:
    return response_cache.get_or_set(
        key,
        loader,
        ttl,
        tags=tags,
        stale_while_revalidate=stale_while_revalidate,
        stale_if_error=stale_if_error,
    )


def depends_on(*tags: str) -> None:
    """Declare that the current request's answer depends on ``tags`` (found in the data it
    read): the response-cache entry this request fills, if any, carries them too."""
    add_response_tags(*tags)


def invalidate(*keys: str) -> None:
    invalidation.invalidate_tags([f"key:{key}" for key in keys])


def invalidate_tags(*tags: str) -> None:
    invalidation.invalidate_tags(list(tags))


def invalidate_pattern(pattern: str, limit: int = 10_000, dry_run: bool = False) -> list[str]:
    """Delete (or list, with ``dry_run``) entries whose key matches ``pattern``."""
    return response_cache.purge(pattern=pattern, limit=limit, dry_run=dry_run)
