"""``flask cache``: operate the response cache of a running deployment.

::

    flask --app app cache routes
    flask --app app cache enable ENDPOINT
    flask --app app cache disable ENDPOINT
    flask --app app cache ttl ENDPOINT SECONDS
    flask --app app cache purge --tag posts [--tag post:42]
    flask --app app cache purge --pattern 'http:posts.list_posts:*' [--dry-run] [--limit N]
    flask --app app cache stats
    flask --app app cache inspect '/api/v1/posts?page=2'
    flask --app app cache get 'posts:single:42'
    flask --app app cache ttl-of 'posts:single:42'

Toggles and purges act on the shared storage, so with Redis every worker of
every instance follows within a second. Exit status 1 when the storage is
unavailable, when the endpoint is not a cacheable route, and when the action
could not reach the running server: with the in-process ``memory`` storage every
process has its own cache and toggles, so a toggle or purge made by this command
would change this command's process only (use Redis, or a shared toggle store such
as ``contrib.sqlalchemy.SqlToggleStore`` for toggles).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import inspect, ops
from .state import CacheState, state_for
from .storage import StorageUnavailable

cache_cli = AppGroup("cache", help="Inspect and operate the response cache.")


def _fail(message: str) -> None:
    raise click.ClickException(message)


@cache_cli.command("routes")
def routes_command() -> None:
    """List the cacheable routes with their effective settings and counters."""
    state = state_for()
    _note_process_local(state)
    rows = ops.list_routes(state)
    click.echo(
        f"{'endpoint':32} {'scope':6} {'ttl':>6} {'default':>7} {'on':3} hit/miss/stale/bypass"
    )
    for row in rows:
        c = row.counters
        counts = f"{c.get('hit', 0)}/{c.get('miss', 0)}/{c.get('stale', 0)}/{c.get('bypass', 0)}"
        click.echo(
            f"{row.endpoint:32} {row.scope:6} {row.ttl:>6g} {row.default_ttl:>7g} "
            f"{'yes' if row.enabled else 'no':3} {counts}  {row.rule}"
        )


def _refuse_process_local(state: CacheState, what: str, shared: bool) -> None:
    if not shared:
        _fail(
            f"{what} would change this command's process only: the cache storage is"
            f" {state.settings.storage!r}, so each server process keeps its own. Nothing"
            " was changed. Use Redis storage (RESPONSE_CACHE_REDIS_URL) or a shared store."
        )


def _note_process_local(state: CacheState) -> None:
    if not state.core.storage.shared:
        click.echo(
            f"note: the cache storage is {state.settings.storage!r}: these counters are this"
            " command's process only, not the server's"
        )


def _set(endpoint: str, enabled: bool | None = None, ttl: int | None = None) -> None:
    state = state_for()
    _refuse_process_local(state, "this toggle", state.toggles.store.shared)
    if ttl is not None and not state.core.storage.shared:
        click.echo("note: each process keeps its own entries; existing ones keep their TTL")
    try:
        info = ops.set_route(state, endpoint, enabled=enabled, ttl=ttl)
    except ops.UnknownRoute:
        _fail(f"{endpoint} is not a cacheable route (see `flask cache routes`)")
        return
    except StorageUnavailable as exc:
        _fail(f"cache storage unavailable: {exc}")
        return
    click.echo(f"{info.endpoint}: {'enabled' if info.enabled else 'disabled'}, ttl {info.ttl:g}s")


@cache_cli.command("enable")
@click.argument("endpoint")
def enable_command(endpoint: str) -> None:
    """Serve and store ENDPOINT's responses again."""
    _set(endpoint, enabled=True)


@cache_cli.command("disable")
@click.argument("endpoint")
def disable_command(endpoint: str) -> None:
    """Stop serving and storing ENDPOINT's responses (within a second, everywhere)."""
    _set(endpoint, enabled=False)


@cache_cli.command("ttl")
@click.argument("endpoint")
@click.argument("seconds", type=click.IntRange(1, 86400))
def ttl_command(endpoint: str, seconds: int) -> None:
    """Set ENDPOINT's TTL (seconds) and purge its current entries."""
    _set(endpoint, ttl=seconds)


@cache_cli.command("purge")
@click.option("--tag", "tags", multiple=True, help="Invalidate entries carrying this tag.")
@click.option("--pattern", help="Delete entries whose name matches this glob (SCAN, bounded).")
@click.option("--dry-run", is_flag=True, help="With --pattern: list, delete nothing.")
@click.option("--limit", default=ops.DEFAULT_PURGE_LIMIT, show_default=True, type=click.IntRange(1))
def purge_command(tags: tuple[str, ...], pattern: str | None, dry_run: bool, limit: int) -> None:
    """Invalidate by tag (O(1)) or delete by name pattern (bounded SCAN)."""
    if bool(tags) == bool(pattern):
        _fail("give either --tag (one or more) or --pattern")
    state = state_for()
    # A tag purge reaches every process through a durable journal; a pattern purge
    # deletes keys, so only a shared storage lets it reach them.
    reaches = state.core.storage.shared or (bool(tags) and state.core.journal.durable)
    _refuse_process_local(state, "this purge", reaches)
    try:
        if tags:
            applied = ops.invalidate_tags(state, tags)
            done = "invalidated" if applied else "queued (applied when the storage answers)"
            click.echo(f"{done} tags: {', '.join(tags)}")
            return
        assert pattern is not None
        keys = ops.purge_pattern(state, pattern, dry_run=dry_run, limit=limit)
    except StorageUnavailable as exc:
        _fail(f"cache storage unavailable: {exc}")
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(keys)} entries")
    if dry_run:
        for key in keys:
            click.echo(key)
    if len(keys) >= limit:
        click.echo(f"limit of {limit} reached: run again for the rest")


@cache_cli.command("stats")
def stats_command() -> None:
    """Counters per endpoint, summed over every process sharing the storage."""
    _note_process_local(state_for())
    try:
        totals = ops.stats(state_for())
    except StorageUnavailable as exc:
        _fail(f"cache storage unavailable: {exc}")
        return
    names = ("hit", "miss", "stale", "bypass", "store", "error")
    click.echo(f"{'endpoint':32} " + " ".join(f"{name:>8}" for name in names))
    for endpoint in sorted(totals):
        counts = totals[endpoint]
        click.echo(f"{endpoint:32} " + " ".join(f"{counts.get(name, 0):>8}" for name in names))
    journal = ops.journal_stats(state_for())
    pending = "unreadable" if journal["pending"] < 0 else journal["pending"]
    click.echo(
        f"invalidations: {pending} pending (committed, not yet applied), "
        f"{journal['replayed']} replayed after an outage"
    )


def _show(view: inspect.EntryView) -> None:
    if not view.found:
        click.echo(f"{view.name}: not cached")
        return
    click.echo(f"name:        {view.name}")
    click.echo(f"key:         {view.key}")
    click.echo(f"size:        {view.size} bytes")
    click.echo(f"age:         {view.age:.1f} s")
    click.echo(f"fresh for:   {view.fresh_for:.1f} s")
    click.echo(f"stale until: {view.stale_until:.1f} s (then gone)")
    if view.status is not None:
        click.echo(f"status:      {view.status}  etag: {view.etag}")
    click.echo(f"payload:     {view.preview}")


def _describe(name: str) -> inspect.EntryView:
    try:
        return inspect.describe(state_for(), name)
    except StorageUnavailable as exc:
        _fail(f"cache storage unavailable: {exc}")
        raise


@cache_cli.command("inspect")
@click.argument("url")
def inspect_command(url: str) -> None:
    """Show the entry an anonymous GET of URL would be served from (read-only)."""
    name = inspect.name_for_url(current_app, state_for(), url)
    if name is None:
        _fail(f"{url} is not served from a public cache entry")
        return
    _show(_describe(name))


@cache_cli.command("get")
@click.argument("key")
def get_command(key: str) -> None:
    """Show one entry by name: a service key (posts:single:42) or an http: name."""
    _show(_describe(key))


@cache_cli.command("ttl-of")
@click.argument("key")
def ttl_of_command(key: str) -> None:
    """Seconds the entry stays fresh, and until it is dropped (-1: not cached)."""
    view = _describe(key)
    if not view.found:
        click.echo("-1")
        return
    click.echo(f"fresh {view.fresh_for:.1f} s, kept {view.stale_until:.1f} s")
