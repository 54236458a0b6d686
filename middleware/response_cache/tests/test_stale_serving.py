# mypy: allow-untyped-defs, allow-incomplete-defs
"""stale-while-revalidate and stale-if-error (RFC 5861), and abandoned fills."""

from __future__ import annotations

import pytest
from flask_response_cache import cache_response


@pytest.fixture
def app(standalone):
    app = standalone(RESPONSE_CACHE_IDENTIFIER="c")
    app.calls = 0
    app.failure = None

    @app.get("/swr")
    @cache_response(ttl=60, stale_while_revalidate=30, tags=["swr"], scope="public")
    def swr():
        app.calls += 1
        return {"call": app.calls}

    @app.get("/sie")
    @cache_response(ttl=60, stale_if_error=120, tags=["sie"], scope="public")
    def sie():
        app.calls += 1
        if app.failure == "raise":
            raise RuntimeError("database is down")
        if app.failure is not None:
            return {"error": "down"}, app.failure
        return {"call": app.calls}

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def hold_fill_lock(app, name_fragment: str) -> None:
    """Play another worker that is refreshing the entry right now."""
    core = app.extensions["response_cache"].core
    storage = core.storage
    epoch = core.trusted_epoch()
    [key] = storage.scan(storage.layout.entry_pattern(f"*{name_fragment}*"), 10)
    name = key.split(f":e:{epoch}:", 1)[1]
    assert storage.acquire(epoch, name, "other-worker", 60_000)[0]


def test_stale_while_revalidate_serves_stale_while_another_refreshes(app, client, clock):
    client.get("/swr")
    clock.advance(70)  # past ttl, inside the 30 s window
    hold_fill_lock(app, "swr")
    answer = client.get("/swr")
    assert answer.headers["X-Cache"] == "STALE"
    assert answer.headers["Cache-Status"] == "c; hit; ttl=-10; detail=stale-while-revalidate"
    assert answer.headers["Age"] == "70"
    assert answer.headers["Cache-Control"].startswith("public, max-age=0")
    assert answer.get_json() == {"call": 1}
    assert app.calls == 1


def test_the_refreshing_request_computes_and_stores(app, client, clock):
    client.get("/swr")
    clock.advance(70)
    answer = client.get("/swr")  # nobody else is refreshing: this one does
    assert answer.headers["X-Cache"] == "MISS"
    assert answer.headers["Cache-Status"] == "c; fwd=stale; stored"
    assert answer.get_json() == {"call": 2}
    assert client.get("/swr").headers["X-Cache"] == "HIT"


@pytest.mark.parametrize("failure", [500, 503, "raise"])
def test_stale_if_error_serves_the_old_entry_when_the_view_fails(app, client, clock, failure):
    client.get("/sie")
    clock.advance(100)  # stale, inside the 120 s error window
    app.failure = failure
    answer = client.get("/sie")
    assert answer.status_code == 200
    assert answer.get_json() == {"call": 1}
    assert answer.headers["X-Cache"] == "STALE"
    status = 500 if failure == "raise" else failure
    assert answer.headers["Cache-Status"] == (
        f"c; fwd=stale; fwd-status={status}; ttl=-40; detail=stale-if-error"
    )


def test_past_the_error_window_the_error_goes_through_and_is_not_stored(app, client, clock):
    client.get("/sie")
    clock.advance(181)
    app.failure = 503
    answer = client.get("/sie")
    assert answer.status_code == 503
    assert answer.headers["X-Cache"] == "MISS"
    app.failure = None
    recovered = client.get("/sie")
    assert recovered.status_code == 200 and recovered.headers["X-Cache"] == "MISS"


def test_a_4xx_is_not_replaced_by_a_stale_entry(app, client, clock):
    client.get("/sie")
    clock.advance(100)
    app.failure = 404
    assert client.get("/sie").status_code == 404


def test_a_fill_whose_view_raised_is_released_at_once(standalone, clock):
    app = standalone(PROPAGATE_EXCEPTIONS=True)
    app.fail = True

    @app.get("/boom")
    @cache_response(ttl=60, scope="public")
    def boom():
        if app.fail:
            raise RuntimeError("boom")
        return {"ok": True}

    client = app.test_client()
    with pytest.raises(RuntimeError):
        client.get("/boom")
    app.fail = False
    before = clock.now
    answer = client.get("/boom")
    assert answer.headers["Cache-Status"].endswith("fwd=uri-miss; stored")
    assert clock.now == before  # nobody waited for a dead filler's lock
