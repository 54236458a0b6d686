"""Which processes a run starts: the app in its variants and the peers, one port each.

Contract: ``build_specs(Context)`` returns a ``PeerSpec`` per target. Every Python target runs
``gunicorn -c gunicorn.conf.py <module>:app`` from the repository root with the app's
production settings (``APP_ENV=production``, ``WEB_CONCURRENCY=2``, sync workers), the bench's
Redis and SQLite file, and rate limits high enough never to answer 429 while still counting
every request. They all get ``SERVER_TIMING=true``: the app then stamps ``Server-Timing`` (the
latency workload's server-side figure); the peers ignore it. The Express recipe runs as one
``node server.js`` process.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from bench.peers.lifecycle import PeerSpec
from tests.support.redis_server import free_port

HIGH_LIMIT = "100000000 per minute"

# name -> (description, shown in the report)
TARGETS: dict[str, str] = {
    "app": "this app: response cache on, rate limiter on (production config)",
    "app-nolimit": "this app: response cache on, RATELIMIT_ENABLED=false",
    "app-nocache": "this app: CACHE_ENABLED=false, rate limiter on",
    "flask-caching": "Flask-Caching 2.5.1 @cached(query_string=True) on Redis, same limiter",
    "flask-caching-nolimit": "Flask-Caching peer without the limiter",
    "flask-constant": "Flask route returning precomputed bytes (the framework's ceiling), limiter",
    "flask-constant-nolimit": "constant-body Flask route without the limiter",
    "express": "Express 5 + ioredis recipe (middleware + getOrSet), one Node process",
    "express-limiter": "the Express recipe with the tutorial's apiLimiter (rate-limit-redis)",
    "express-nocache": "Express recipe without its caches (better-sqlite3 only)",
    "express-nocache-limiter": "Express recipe without its caches, with its apiLimiter on Redis",
    "app-nocache-pg": "this app, cache off, on PostgreSQL",
}


@dataclass(frozen=True)
class Context:
    root: Path
    python: Path
    tmp: Path
    sqlite_path: Path
    redis_port: int
    urls_file: Path
    postgres_url: str | None = None


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIND", "PROMETHEUS"))}
    for key in ("REDIS_HOST", "REDIS_PASSWORD", "REDIS_TLS", "TRUSTED_PROXIES", "FLASK_APP"):
        env.pop(key, None)
    return env


def _python_env(ctx: Context, port: int, **extra: str) -> dict[str, str]:
    return {
        **_base_env(),
        "DATABASE_URL": f"sqlite:///{ctx.sqlite_path}",
        "REDIS_URL": f"redis://127.0.0.1:{ctx.redis_port}/0",
        "APP_ENV": "production",
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_WORKER_CLASS": "sync",
        "RATELIMIT_API": HIGH_LIMIT,
        "RATELIMIT_AUTH": HIGH_LIMIT,
        "RATELIMIT_LOGIN_FAILURES": HIGH_LIMIT,
        "SERVER_TIMING": "true",
        **extra,
    }


_TAKEN: set[int] = set()


def _port() -> int:
    """A free loopback port not handed to another peer of this run."""
    while True:
        port = free_port()
        if port not in _TAKEN:
            _TAKEN.add(port)
            return port


def _gunicorn(ctx: Context, name: str, module: str, cache: str, **extra: str) -> PeerSpec:
    port = _port()
    argv = [str(ctx.python.parent / "gunicorn"), "-c", "gunicorn.conf.py", f"{module}:app"]
    env = _python_env(ctx, port, **extra)
    return PeerSpec(name, TARGETS[name], argv, env, port, cache, ctx.root)


def _express(ctx: Context, name: str, cache_on: bool, limiter: bool = False) -> PeerSpec:
    port = _port()
    env = {
        **_base_env(),
        "PORT": str(port),
        "DB_PATH": str(ctx.sqlite_path),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(ctx.redis_port),
        "EXPRESS_CACHE": "on" if cache_on else "off",
        "EXPRESS_RATELIMIT": "on" if limiter else "off",
        "RATELIMIT_MAX": "100000000",
        "CACHE_TTL": "3600",
        "NODE_ENV": "production",
    }
    cwd = ctx.root / "bench" / "peers" / "express"
    cache = "x-cache" if cache_on else "none"
    return PeerSpec(name, TARGETS[name], ["node", "server.js"], env, port, cache, cwd)


def build_specs(ctx: Context) -> list[PeerSpec]:
    on, off = "true", "false"
    caching = "bench.peers.flask_caching_app"
    constant = "bench.peers.constant_app"
    urls = str(ctx.urls_file)
    specs = [
        _gunicorn(ctx, "app", "wsgi", "x-cache", CACHE_ENABLED=on, RATELIMIT_ENABLED=on),
        _gunicorn(ctx, "app-nolimit", "wsgi", "x-cache", CACHE_ENABLED=on, RATELIMIT_ENABLED=off),
        _gunicorn(ctx, "app-nocache", "wsgi", "none", CACHE_ENABLED=off, RATELIMIT_ENABLED=on),
        _gunicorn(ctx, "flask-caching", caching, "flask-caching", PEER_RATELIMIT=on),
        _gunicorn(ctx, "flask-caching-nolimit", caching, "flask-caching", PEER_RATELIMIT=off),
        _gunicorn(ctx, "flask-constant", constant, "none", PEER_RATELIMIT=on, BENCH_URLS=urls),
        _gunicorn(
            ctx, "flask-constant-nolimit", constant, "none", PEER_RATELIMIT=off, BENCH_URLS=urls
        ),
        _express(ctx, "express", cache_on=True),
        _express(ctx, "express-limiter", cache_on=True, limiter=True),
        _express(ctx, "express-nocache", cache_on=False),
        _express(ctx, "express-nocache-limiter", cache_on=False, limiter=True),
    ]
    if ctx.postgres_url:
        specs.append(
            _gunicorn(
                ctx,
                "app-nocache-pg",
                "wsgi",
                "none",
                CACHE_ENABLED=off,
                RATELIMIT_ENABLED=on,
                DATABASE_URL=ctx.postgres_url,
            )
        )
    return specs
