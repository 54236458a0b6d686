"""Structured access log and request ids (issue 8, item 6).

Contract: one JSON line per request on the ``access`` logger with ``request_id``, ``method``,
``route`` (the URL rule, never the raw path), ``status``, ``duration_ms`` and ``cache`` (the
``X-Cache`` value); the id is echoed in ``X-Request-ID``. An incoming ``X-Request-ID`` is kept
only when it is 1-64 characters of ``[A-Za-z0-9._-]``; anything else gets a fresh uuid4 hex.
"""

from __future__ import annotations

import logging
import re

import pytest

from observability.request_log import (
    ACCESS_LOGGER,
    BufferedStderrHandler,
    configure_access_logger,
    request_id_from,
)
from tests.support.fake_clock import FakeClock

HEX_ID = re.compile(r"[0-9a-f]{32}")
LIST = "posts.list_posts"
POST_RULE = "/api/v1/posts/<int(max=2147483647):post_id>"


def test_one_json_line_per_request_with_every_field(client, access_lines):
    response = client.get("/api/v1/posts?page=1", headers={"X-Request-ID": "req-1"})
    response.get_data()

    assert len(access_lines) == 1
    line = access_lines[0]
    assert set(line) == {
        "ts", "request_id", "method", "route", "endpoint", "status", "duration_ms", "cache",
    }  # fmt: skip
    assert line["request_id"] == "req-1" == response.headers["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/posts"
    assert line["endpoint"] == "posts.list_posts"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["cache"] == response.headers.get("X-Cache")


def test_route_is_the_url_rule_not_the_raw_path(client, access_lines):
    client.get("/api/v1/posts/123456").get_data()
    assert access_lines[-1]["route"] == POST_RULE
    assert access_lines[-1]["status"] == 404
    assert "123456" not in str(access_lines[-1])


def test_url_matching_no_route_logs_a_null_route(client, access_lines):
    response = client.get("/no/such/page/../etc/passwd")
    response.get_data()
    assert response.status_code == 404
    assert access_lines[-1]["route"] is None
    assert access_lines[-1]["endpoint"] is None


@pytest.mark.parametrize(
    "incoming",
    [
        "a" * 65,  # too long
        "",  # empty
        "has space",
        'quote"inject',
        "line\\nbreak",
        "naïve",  # non-ASCII
        "semi;colon",
    ],
)
def test_insane_incoming_ids_are_replaced_by_a_fresh_uuid(client, access_lines, incoming):
    response = client.get("/api/v1/health", headers={"X-Request-ID": incoming})
    response.get_data()
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    assert access_lines[-1]["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("incoming", ["a" * 64, "0", "Trace.ID-42_x", "f" * 32])
def test_sane_incoming_ids_are_kept(client, incoming):
    assert (
        client.get("/api/v1/health", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
        == incoming
    )


def test_each_request_without_an_id_gets_its_own(client):
    first = client.get("/api/v1/health").headers["X-Request-ID"]
    second = client.get("/api/v1/health").headers["X-Request-ID"]
    assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second) and first != second


def test_errors_are_logged_with_their_status(client, access_lines):
    response = client.post("/api/v1/auth/login", data="x", content_type="text/plain")
    response.get_data()
    assert response.status_code == 415
    assert access_lines[-1]["status"] == 415
    assert access_lines[-1]["method"] == "POST"
    assert access_lines[-1]["route"] == "/api/v1/auth/login"


def test_cache_outcome_is_logged(client, access_lines):
    for _ in range(2):
        client.get("/api/v1/posts").get_data()
    outcomes = [line["cache"] for line in access_lines.for_endpoint("posts.list_posts")]
    if outcomes == [None, None]:
        pytest.skip("the response cache is not wired into create_app (no X-Cache header)")
    assert outcomes == ["MISS", "HIT"]


def test_access_logger_writes_to_stderr_once_and_does_not_propagate(make_app, capsys):
    make_app()
    app = make_app()  # a second app in the same process must not add a second handler
    logger = logging.getLogger(ACCESS_LOGGER)
    assert logger.propagate is False
    ours = [h for h in logger.handlers if type(h).__module__ == "observability.request_log"]
    assert len(ours) == 1
    app.test_client().get("/api/v1/health", headers={"X-Request-ID": "stderr-check"}).get_data()
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if '"request_id":"stderr-check"' in line] != []
    assert len([line for line in err if "stderr-check" in line]) == 1


def test_request_id_from_is_pure():
    assert request_id_from("abc") == "abc"
    assert HEX_ID.fullmatch(request_id_from(None))


def test_a_response_answered_below_flask_is_observed_like_any_other(app, access_lines):
    """A WSGI layer under the observer (a cache fast path) answers without Flask dispatching:
    the route still comes from the URL map, and a stored X-Request-ID never leaks through."""
    observer = app.wsgi_app
    flask_app = observer.wsgi_app

    def fast_path(environ, start_response):
        if environ["PATH_INFO"] != "/api/v1/posts":
            return flask_app(environ, start_response)
        headers = [("Content-Type", "application/json"), ("X-Cache", "HIT")]
        start_response("200 OK", [*headers, ("X-Request-ID", "id-of-the-filler")])
        return [b"{}"]

    observer.wsgi_app = fast_path
    response = app.test_client().get("/api/v1/posts", headers={"X-Request-ID": "this-one"})
    response.get_data()

    assert response.headers.getlist("X-Request-ID") == ["this-one"]
    line = access_lines[-1]
    assert (line["route"], line["endpoint"], line["cache"]) == ("/api/v1/posts", LIST, "HIT")
    assert line["request_id"] == "this-one"


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, message, (), None)


def test_buffered_lines_wait_for_the_age_limit_then_go_in_one_write(capsys):
    clock = FakeClock(100.0)
    handler = BufferedStderrHandler(clock=clock, max_bytes=10**6, max_age=1.0)
    handler.handle(record("a"))
    clock.advance(0.5)
    handler.handle(record("b"))
    handler.flush_if_due()
    assert capsys.readouterr().err == ""  # the oldest line is 0.5 s old
    clock.advance(0.5)
    handler.flush_if_due()  # what the flusher thread does for an idle worker
    assert capsys.readouterr().err == "a\nb\n"
    handler.handle(record("c"))
    clock.advance(1.0)
    handler.handle(record("d"))  # a busy worker flushes on the line that finds the batch due
    assert capsys.readouterr().err == "c\nd\n"


def test_buffered_lines_go_at_the_size_limit_and_on_flush(capsys):
    handler = BufferedStderrHandler(clock=FakeClock(), max_bytes=8, max_age=60.0)
    handler.handle(record("123"))
    assert capsys.readouterr().err == ""
    handler.handle(record("4567"))  # 4 + 5 bytes waiting: over 8
    assert capsys.readouterr().err == "123\n4567\n"
    handler.handle(record("x"))
    handler.flush()  # exit: nothing is kept back
    assert capsys.readouterr().err == "x\n"


def ours_on(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if type(h).__module__ == "observability.request_log"]


@pytest.mark.parametrize(
    ("mode", "kind"), [("buffered", BufferedStderrHandler), ("line", logging.StreamHandler)]
)
def test_the_mode_picks_one_handler_and_off_logs_nothing(mode, kind):
    logger = logging.getLogger(ACCESS_LOGGER)
    try:
        configure_access_logger(mode)
        configure_access_logger(mode)
        ours = [h for h in logger.handlers if type(h).__module__ == "observability.request_log"]
        assert len(ours) == 1 and isinstance(ours[0], kind)
        configure_access_logger("off")
        assert not logger.isEnabledFor(logging.INFO)
        assert [
            h for h in logger.handlers if type(h).__module__ == "observability.request_log"
        ] == []
    finally:
        configure_access_logger("line")  # what the rest of the suite runs with
