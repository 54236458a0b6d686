"""gunicorn.conf.py sets real gunicorn settings, to the values the deployment relies on.

Contract: gunicorn silently ignores unknown names in a config file, so a typo such as
``control_socket_disabled`` would quietly bring back the shared control socket. These tests
execute the file under a controlled environment, check that every public name it defines is a
gunicorn 27 setting, feed the values through gunicorn's own validators, and pin the values that
matter: loopback bind, no control socket, no trusted forwarding headers.
"""

from __future__ import annotations

import ast
import os
import runpy
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config

from tests.support.gunicorn_server import GunicornServer, seed_sqlite

CONF_FILE = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
ENV_KNOBS = (
    "BIND",
    "PORT",
    "WEB_CONCURRENCY",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS",
    "GUNICORN_ACCESS_LOG",
)


def defined_names() -> set[str]:
    """Public names the file assigns or defines at top level (imports excluded)."""
    names: set[str] = set()
    for node in ast.parse(CONF_FILE.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
    return {name for name in names if not name.startswith("_")}


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Config:
    """Run the file with only ``env`` set among its knobs; return gunicorn's validated Config."""
    for knob in (*ENV_KNOBS, "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(knob, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace = runpy.run_path(str(CONF_FILE))
    cfg = Config()
    # Unknown names are test_every_defined_name_is_a_gunicorn_setting's to report.
    for name in defined_names() & set(cfg.settings):
        cfg.set(name, namespace[name])  # runs gunicorn's validator for that setting
    return cfg


def test_every_defined_name_is_a_gunicorn_setting() -> None:
    unknown = defined_names() - set(Config().settings)
    assert not unknown, f"gunicorn would silently ignore {sorted(unknown)}"


def test_defaults_serve_on_loopback_with_two_sync_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(monkeypatch)
    assert cfg.bind == ["127.0.0.1:8000"]
    assert cfg.workers == 2
    assert cfg.worker_class_str == "sync"
    assert cfg.preload_app is False
    assert (cfg.timeout, cfg.graceful_timeout, cfg.keepalive) == (30, 30, 2)
    assert cfg.accesslog is None  # the app logs every request itself


@pytest.mark.parametrize("value", ["-", "/var/log/posts-api/access.log"])
def test_gunicorn_access_log_is_on_when_asked_for(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    assert load(monkeypatch, GUNICORN_ACCESS_LOG=value).accesslog == value


def test_control_socket_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch).control_socket_disable is True


def test_no_peer_may_set_scheme_or_forwarding_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(monkeypatch, TRUSTED_PROXIES="2")  # ProxyFix in wsgi.py owns these, never gunicorn
    assert cfg.forwarded_allow_ips == []
    assert cfg.secure_scheme_headers == {}
    assert cfg.forwarder_headers == []


def test_request_head_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(monkeypatch)
    assert (cfg.limit_request_line, cfg.limit_request_fields, cfg.limit_request_field_size) == (
        8190,
        100,
        8190,
    )


@pytest.mark.parametrize(
    ("env", "bind"),
    [
        ({"PORT": "8137"}, ["127.0.0.1:8137"]),
        ({"PORT": "8137", "BIND": "0.0.0.0:8000"}, ["0.0.0.0:8000"]),
    ],
)
def test_bind_follows_port_and_bind(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], bind: list[str]
) -> None:
    assert load(monkeypatch, **env).bind == bind


def test_workers_and_worker_class_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(
        monkeypatch, WEB_CONCURRENCY="3", GUNICORN_WORKER_CLASS="gthread", GUNICORN_THREADS="4"
    )
    assert (cfg.workers, cfg.worker_class_str, cfg.threads) == (3, "gthread", 4)


@pytest.mark.parametrize("value", ["0", "two"])
def test_bad_worker_count_stops_start_up_with_its_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY"):
        load(monkeypatch, WEB_CONCURRENCY=value)


def test_on_starting_clears_only_stale_metric_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("keep")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    namespace: dict[str, Any] = runpy.run_path(str(CONF_FILE))

    namespace["on_starting"](server=None)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_metric_hooks_do_nothing_without_a_multiproc_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = runpy.run_path(str(CONF_FILE))

    namespace["on_starting"](server=None)
    namespace["child_exit"](server=None, worker=None)

    assert list(tmp_path.iterdir()) == []


def test_a_blank_metrics_directory_is_no_metrics_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """prometheus-client would take an empty PROMETHEUS_MULTIPROC_DIR for the current directory."""
    load(monkeypatch, PROMETHEUS_MULTIPROC_DIR="  ")
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def _get_and_keep_open(port: int) -> socket.socket:
    """One GET on a fresh connection, answer read in full, the socket left open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head.lower()
    return sock


@pytest.mark.slow
def test_a_sync_worker_is_free_at_once_after_answering(tmp_path: Path) -> None:
    """One sync worker; a client reads its answer and keeps its socket open. gunicorn 27 alone
    would linger on that socket until the client closes (up to 2 s); with nothing unread the
    worker closes at once: the client sees EOF, and the next client is answered meanwhile."""
    url = seed_sqlite(tmp_path / "app.db")
    server = GunicornServer({"DATABASE_URL": url, "REDIS_URL": ""}, tmp_path, workers=1)
    server.env.pop("REDIS_URL")
    server.start()
    try:
        first = _get_and_keep_open(server.port)
        started = time.perf_counter()
        first.settimeout(1.0)
        assert first.recv(1) == b""  # the server's FIN, before we close anything
        second = _get_and_keep_open(server.port)
        elapsed = time.perf_counter() - started
        first.close()
        second.close()
    finally:
        server.stop()
    assert elapsed < 1.0, f"the worker lingered {elapsed:.2f} s on an answered connection"


def test_unread_request_bytes_still_get_the_graceful_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes the request left unread are what a plain close would answer with a RST: those
    connections keep gunicorn's draining close; the others are closed at once."""
    namespace = runpy.run_path(str(CONF_FILE))
    graceful_calls: list[socket.socket] = []
    close = namespace["_prompt_close"](lambda sock, *a, **k: graceful_calls.append(sock))
    ours, theirs = socket.socketpair()
    theirs.sendall(b"unread")
    close(ours)
    assert graceful_calls == [ours]
    quiet, peer = socket.socketpair()
    close(quiet)
    assert graceful_calls == [ours] and quiet.fileno() == -1  # closed without draining
    assert peer.recv(1) == b""
    for sock in (ours, theirs, peer):
        sock.close()
