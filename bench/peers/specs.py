"""Which processes a run starts: the app in its variants and the peers, one port each.

Contract: ``build_specs(Context)`` returns a ``PeerSpec`` per target.

- Every ``app*`` target is started by ``make run`` itself (``MAKE_RUN``), so it runs exactly as
  a user's does: ``gunicorn.conf.py``'s defaults (2 sync workers), the buffered JSON access
  log, multiprocess Prometheus metrics, ``APP_ENV`` unset. The environment adds only what a
  benchmark must: the bench's SQLite file and Redis, a port, rate limits high enough never to
  answer 429 while still counting every request, and a metrics directory of its own (targets
  must not share one). A variant adds one documented setting (``APP_VARIANTS``): the factors
  workload measures each against ``app``; ``app-timing`` (``SERVER_TIMING=true``) is the
  latency workload's. Settings of the invoking shell that ``make run`` would read are dropped.
- The Flask peers run ``gunicorn -c gunicorn.conf.py <module>:app`` with the same worker
  settings and limiter; the Express recipe runs as one ``node server.js`` process.
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
    "app": "this app as `make run` serves it (cache and limiter on), only the limits raised",
    "app-nolimit": "`make run` with RATELIMIT_ENABLED=false",
    "app-nocache": "`make run` with CACHE_ENABLED=false (rate limiter on)",
    "app-timing": "`make run` with SERVER_TIMING=true (the latency workload's server figure)",
    "app-log-line": "`make run` with ACCESS_LOG=line (a write per request)",
    "app-log-off": "`make run` with ACCESS_LOG=off",
    "app-metrics-local": "`make run` with PROMETHEUS_MULTIPROC_DIR= (per-worker metrics)",
    "app-production": "`make run` with APP_ENV=production",
    "app-old-bench": "the app as the benchmark ran it before issue 18: APP_ENV=production, "
    "SERVER_TIMING=true, ACCESS_LOG=line, per-worker metrics",
    "app-gthread": "`make run` with GUNICORN_WORKER_CLASS=gthread, GUNICORN_THREADS=4 "
    "(keep-alive; the documented production setting)",
    "app-gevent": "`make run` with GUNICORN_WORKER_CLASS=gevent (keep-alive; gevent from "
    "bench/requirements.txt)",
    "flask-caching": "Flask-Caching 2.5.1 @cached(query_string=True) on Redis, same limiter",
    "flask-caching-nolimit": "Flask-Caching peer without the limiter",
    "flask-constant": "Flask route returning precomputed bytes (the framework's ceiling), limiter",
    "flask-constant-nolimit": "constant-body Flask route without the limiter",
    "express": "Express 5 + ioredis recipe (middleware + getOrSet), one Node process",
    "express-limiter": "the Express recipe with the tutorial's apiLimiter (rate-limit-redis)",
    "express-limiter-2": "the same as 2 Node processes (EXPRESS_PROCESSES=2, node:cluster)",
    "express-nocache": "Express recipe without its caches (better-sqlite3 only)",
    "express-nocache-limiter": "Express recipe without its caches, with its apiLimiter on Redis",
    "app-nocache-pg": "`make run` with CACHE_ENABLED=false, on PostgreSQL",
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


HIGH_LIMITS = {
    "RATELIMIT_API": HIGH_LIMIT,
    "RATELIMIT_AUTH": HIGH_LIMIT,
    "RATELIMIT_LOGIN_FAILURES": HIGH_LIMIT,
}
MAKE_RUN = ["make", "--no-print-directory", "run"]
# What each app variant sets on top of `make run` (the factors workload's rows).
APP_VARIANTS: dict[str, dict[str, str]] = {
    "app": {},
    "app-nolimit": {"RATELIMIT_ENABLED": "false"},
    "app-nocache": {"CACHE_ENABLED": "false"},
    "app-nocache-pg": {"CACHE_ENABLED": "false"},  # and DATABASE_URL: the bench's PostgreSQL
    "app-timing": {"SERVER_TIMING": "true"},
    "app-log-line": {"ACCESS_LOG": "line"},
    "app-log-off": {"ACCESS_LOG": "off"},
    "app-metrics-local": {"PROMETHEUS_MULTIPROC_DIR": ""},
    "app-production": {"APP_ENV": "production"},
    "app-gthread": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"},
    "app-gevent": {"GUNICORN_WORKER_CLASS": "gevent"},
    "app-old-bench": {
        "APP_ENV": "production",
        "SERVER_TIMING": "true",
        "ACCESS_LOG": "line",
        "PROMETHEUS_MULTIPROC_DIR": "",
    },
}
# Settings of the invoking shell that would change what `make run` serves.
_APP_SETTINGS = (
    "APP_ENV", "SECRET_KEY", "DATABASE_URL", "PORT", "SERVER_TIMING", "ACCESS_LOG",
    "WEB_CONCURRENCY", "GUNICORN_", "CACHE_", "RESPONSE_CACHE_", "RATELIMIT_", "SESSION_",
    "REDIS_", "METRICS_TOKEN", "TRUSTED_", "MAX_CONTENT_LENGTH",
)  # fmt: skip


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIND", "PROMETHEUS"))}
    for key in ("REDIS_HOST", "REDIS_PASSWORD", "REDIS_TLS", "TRUSTED_PROXIES", "FLASK_APP"):
        env.pop(key, None)
    return env


def make_run_env(
    ctx: Context, name: str, port: int, database_url: str | None = None
) -> dict[str, str]:
    """``make run``'s environment for app target ``name``: only what a benchmark must add."""
    env = {k: v for k, v in _base_env().items() if not k.startswith(_APP_SETTINGS)}
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{ctx.sqlite_path}",
        REDIS_URL=f"redis://127.0.0.1:{ctx.redis_port}/0",
        PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(ctx.tmp / "prometheus" / name),
        **HIGH_LIMITS,
    )
    variant = APP_VARIANTS[name]
    if variant.get("APP_ENV") == "production":
        env["SECRET_KEY"] = "bench-" + secrets.token_hex(16)  # production refuses to start without
    env.update(variant)
    return env


def _make_run(ctx: Context, name: str, cache: str, database_url: str | None = None) -> PeerSpec:
    port = _port()
    env = make_run_env(ctx, name, port, database_url)
    return PeerSpec(name, TARGETS[name], MAKE_RUN, env, port, cache, ctx.root)


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
        **HIGH_LIMITS,
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


def _express(
    ctx: Context, name: str, cache_on: bool, limiter: bool = False, processes: int = 1
) -> PeerSpec:
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
        "EXPRESS_PROCESSES": str(processes),
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
        *(
            _make_run(ctx, name, "none" if name == "app-nocache" else "x-cache")
            for name in APP_VARIANTS
            if name != "app-nocache-pg"
        ),
        _gunicorn(ctx, "flask-caching", caching, "flask-caching", PEER_RATELIMIT=on),
        _gunicorn(ctx, "flask-caching-nolimit", caching, "flask-caching", PEER_RATELIMIT=off),
        _gunicorn(ctx, "flask-constant", constant, "none", PEER_RATELIMIT=on, BENCH_URLS=urls),
        _gunicorn(
            ctx, "flask-constant-nolimit", constant, "none", PEER_RATELIMIT=off, BENCH_URLS=urls
        ),
        _express(ctx, "express", cache_on=True),
        _express(ctx, "express-limiter", cache_on=True, limiter=True),
        _express(ctx, "express-limiter-2", cache_on=True, limiter=True, processes=2),
        _express(ctx, "express-nocache", cache_on=False),
        _express(ctx, "express-nocache-limiter", cache_on=False, limiter=True),
    ]
    if ctx.postgres_url:
        specs.append(_make_run(ctx, "app-nocache-pg", "none", ctx.postgres_url))
    return specs
