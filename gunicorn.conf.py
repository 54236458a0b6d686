"""gunicorn settings, every knob from the environment with a safe default.

Contract (read by ``gunicorn -c gunicorn.conf.py wsgi:app``; names are gunicorn 27.0.1's):

- ``BIND``: the ``bind`` address; default ``127.0.0.1:$PORT`` (compose sets ``0.0.0.0:8000``).
- ``PORT``: port of the default bind; default ``8000``.
- ``WEB_CONCURRENCY``: ``workers``; default ``2``.
- ``GUNICORN_WORKER_CLASS``: ``worker_class``; default ``sync`` (``gthread`` suits slow I/O).
- ``GUNICORN_THREADS``: ``threads`` per worker, used by ``gthread`` only; default ``1``.
- ``GUNICORN_ACCESS_LOG``: gunicorn's own access log, ``-`` (stdout) or a file; default off
  (the app logs every request as JSON).
- sync workers close a connection at once when the request left nothing unread
  (``post_worker_init``): gunicorn 27 otherwise lingers after every response until the client
  closes its side (up to 2 s), and a sync worker serves no one meanwhile.
- ``PROMETHEUS_MULTIPROC_DIR``: unset by default; when set, stale ``*.db`` metric files are removed
  at start-up and exited workers are marked dead (prometheus-client multiprocess mode). Set but
  blank counts as unset (it is removed from the environment the workers inherit).

Invalid values fail at start-up with the variable's name, never halfway through serving.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"gunicorn.conf.py: {name} must be >= {minimum}, got {value}")
    return value


# Loopback by default: gunicorn itself binds 0.0.0.0 whenever PORT is set, which would expose a
# development server to the network. Containers opt in to 0.0.0.0 through BIND.
bind = [os.environ.get("BIND", "").strip() or f"127.0.0.1:{_env_int('PORT', 8000)}"]
workers = _env_int("WEB_CONCURRENCY", 2)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "").strip() or "sync"
threads = _env_int("GUNICORN_THREADS", 1)

# gunicorn 27 opens a control socket by default at $XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl. Two instances on one machine (tests, benchmark peers, a dev server)
# fight over that one path, and the first to exit deletes it under the other. Nothing here uses
# gunicornc, so it stays off (the config-file twin of --no-control-socket).
control_socket_disable = True

timeout = 30
# Leave in-flight requests the full 30 s to finish on SIGTERM (a deploy or `docker stop`).
graceful_timeout = 30
keepalive = 2
# Off so that every worker builds its own Redis and DB clients in create_app(); nothing
# connected is ever inherited across fork, so no post_fork hook is needed.
preload_app = False

# Bounds on the request head (gunicorn's maxima) so an oversized header is a 400 from gunicorn,
# not memory in a worker; bodies are bounded by MAX_CONTENT_LENGTH in the app.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# The app writes the access log: one JSON line per request (observability/request_log.py) with
# the route pattern, never the path, query string or client address. gunicorn's own line would
# repeat every request with exactly those, and cost each request a second formatted write, so it
# is off unless asked for ("-" is stdout, anything else a file path).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "").strip() or None

# Forwarding headers: werkzeug's ProxyFix, installed by wsgi.py when TRUSTED_PROXIES > 0, is the
# ONLY place that trusts them, with an exact hop count. gunicorn would otherwise also honour
# X-Forwarded-Proto/-Ssl/-Protocol from 127.0.0.1 (its default forwarded_allow_ips), so a local
# reverse proxy that passes a client's X-Forwarded-Ssl through would let the client flip
# request.scheme to https (or get a 400 from mismatched scheme headers). Trusting no peer and no
# scheme header keeps one rule, written in one place; with TRUSTED_PROXIES > 0 ProxyFix sets the
# scheme from X-Forwarded-Proto anyway. Empty secure_scheme_headers also covers unix-socket binds,
# which gunicorn trusts unconditionally.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""


# prometheus-client multiprocess mode (ecosystem check, item 9). Inert unless the variable is set.
_PROMETHEUS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
if not _PROMETHEUS_DIR:
    # prometheus-client switches to multiprocess mode when the variable merely exists, and an
    # empty one means "the current directory": `PROMETHEUS_MULTIPROC_DIR= make run` (the
    # documented opt-out) would litter it with .db files. Blank means unset; the workers,
    # forked from this process, inherit the cleaned environment.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def on_starting(server: Any) -> None:
    """Start every run with an empty metrics directory, so dead pids' counters do not leak in.

    Only ``*.db`` files are removed (the ones prometheus-client writes), never the directory, so a
    mistyped path cannot cost anything but metric files.
    """
    if not _PROMETHEUS_DIR:
        return
    directory = Path(_PROMETHEUS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def worker_exit(server: Any, worker: Any) -> None:
    """In the exiting worker: write out the access lines it still buffers."""
    from observability.request_log import flush_access_log

    flush_access_log()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    if not _PROMETHEUS_DIR:
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:  # metrics are optional; the app runs without prometheus-client
        return
    multiprocess.mark_process_dead(worker.pid)


def _prompt_close(graceful: Callable[..., None]) -> Callable[..., None]:
    """gunicorn's ``close_graceful`` (RFC 9112 9.6: FIN, then drain until the peer closes), only
    when the client sent bytes the request did not read. Those are what a plain close would
    answer with a RST that can destroy the response before the client reads it. With nothing
    unread the FIN of a plain close is enough, and the worker is free at once (a sync worker's
    answers say ``Connection: close``, so a client sends nothing more)."""

    def close(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        try:
            sock.setblocking(False)
            unread = sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            unread = b""  # nothing waiting
        except OSError:
            unread = b""  # already reset or gone: nothing to protect
        if unread:
            graceful(sock, *args, **kwargs)
            return
        try:
            sock.close()
        except OSError:
            pass

    close.prompt = True  # type: ignore[attr-defined]
    return close


def post_worker_init(worker: Any) -> None:
    """In each sync worker: close connections at once when nothing is left unread."""
    from gunicorn import util
    from gunicorn.workers.sync import SyncWorker

    if isinstance(worker, SyncWorker) and not getattr(util.close_graceful, "prompt", False):
        util.close_graceful = _prompt_close(util.close_graceful)
