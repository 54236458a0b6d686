# mypy: allow-untyped-defs, allow-incomplete-defs
"""``LimiterCharge``: fast-path hits counted in Flask-Limiter's own buckets, exactly once,
all or nothing, with Flask-Limiter's own headers; whatever it cannot reproduce goes to
Flask, where Flask-Limiter counts it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request
from flask_limiter import Limit, Limiter
from flask_limiter.util import get_remote_address
from flask_response_cache import ResponseCache, cache_response
from flask_response_cache.contrib.flask_limiter import LimiterCharge
from flask_response_cache.state import state_for

ADDRESS = "10.1.1.1"


def build(
    *,
    storage_uri: str = "memory://",
    cache_redis: str | None = None,
    fast_path: bool = True,
    charge: Any = None,
    **limiter_options: Any,
) -> Flask:
    app = Flask("adapter")
    app.config.update(
        TESTING=True, RESPONSE_CACHE_FAST_PATH=fast_path, RATELIMIT_HEADERS_ENABLED=True
    )
    if cache_redis:
        app.config["RESPONSE_CACHE_REDIS_URL"] = cache_redis
    limiter_options.setdefault("default_limits", ["3 per minute"])
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage_uri, **limiter_options)
    app.limiter = limiter  # type: ignore[attr-defined]
    ResponseCache(app, charge=charge(limiter) if charge else None)
    count_requests_reaching_flask(app)

    @app.get("/item")
    @cache_response(ttl=60, scope="public")
    def item() -> dict[str, str]:
        return {"item": "x"}

    return app


def count_requests_reaching_flask(app: Flask) -> None:
    app.flask_saw = 0  # type: ignore[attr-defined]
    fast_path = state_for(app).fast_path
    if fast_path is None:
        return
    inner = fast_path.wsgi_app

    def counting(environ: Any, start_response: Any) -> Any:
        app.flask_saw += 1  # type: ignore[attr-defined]
        return inner(environ, start_response)

    fast_path.wsgi_app = counting


def get(app: Flask, path: str = "/item", address: str = ADDRESS) -> Any:
    before = app.flask_saw  # type: ignore[attr-defined]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    response = client.get(path)
    response.below_flask = app.flask_saw == before  # type: ignore[attr-defined]
    return response


def counted(app: Flask, limit: str = "3 per minute", address: str = ADDRESS) -> int:
    from limits import parse

    limiter = app.limiter  # type: ignore[attr-defined]
    return int(limiter.storage.get(parse(limit).key_for(address, "item")))


@pytest.fixture(params=["memory", "redis"])
def storages(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    url = request.getfixturevalue("redis_server").url
    return {"storage_uri": url, "cache_redis": url}


def test_hits_count_in_the_limiters_own_bucket_exactly_once(storages):
    app = build(**storages)
    answers = [get(app) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.below_flask for a in answers[:3]] == [False, True, True]
    assert counted(app) == 5  # each request once: three here, the refused two by Flask


def limit_headers(response: Any) -> dict[str, str]:
    return {
        n: v for n, v in response.headers.items() if "ratelimit" in n.lower() or n == "Retry-After"
    }


def test_fast_hits_carry_the_headers_flask_limiter_gives_flask_hits(storages):
    slow, fast = build(fast_path=False, **storages), build(**storages)
    get(slow, address="10.2.2.2")
    flask_hit = get(slow, address="10.2.2.2")
    get(fast, address="10.2.2.3")
    quick = get(fast, address="10.2.2.3")
    assert quick.below_flask  # the other app has no fast path: its hit is answered by Flask
    assert quick.headers["X-Cache"] == flask_hit.headers["X-Cache"] == "HIT"
    ours, theirs = limit_headers(quick), limit_headers(flask_hit)
    assert (
        set(ours)
        == set(theirs)
        == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}
    )
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining"):
        assert ours[name] == theirs[name]
    for name in ("X-RateLimit-Reset", "Retry-After"):  # seconds: the requests are not simultaneous
        assert abs(int(ours[name]) - int(theirs[name])) <= 1


def test_a_hit_over_the_limit_is_refused_by_flask_limiter_itself(storages):
    app = build(**storages)

    @app.errorhandler(429)
    def too_many(error: Any) -> tuple[dict[str, str], int]:
        return {"error": f"slow down: {error.description}"}, 429

    for _ in range(3):
        get(app)
    refused = get(app)
    assert not refused.below_flask
    assert refused.get_json() == {"error": "slow down: 3 per 1 minute"}


def test_a_miss_charged_below_flask_is_not_counted_again(redis_server):
    app = build(storage_uri=redis_server.url, cache_redis=redis_server.url)
    charge = state_for(app).charge()
    assert isinstance(charge, LimiterCharge) and charge.pipelined
    get(app)  # renews trust; its count rides along but finds the script missing
    get(app, "/item?x=1")  # a miss whose count rode on the entry's read
    assert counted(app) == 2
    assert get(app, "/item?x=2").headers["X-RateLimit-Remaining"] == "0"
    assert counted(app) == 3


def test_two_limits_are_charged_all_or_nothing(storages):
    app = build(default_limits=["2 per minute", "10 per hour"], **storages)
    answers = [get(app) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].below_flask
    assert counted(app, "2 per minute") == 3
    assert counted(app, "10 per hour") == 2  # Flask-Limiter stops at the first breach


def test_a_key_function_without_an_environ_twin_sends_hits_to_flask():
    def by_header() -> str:
        return request.headers.get("X-Client", "anon")

    app = build(default_limits=[Limit("3 per minute", key_function=by_header)])
    get(app)
    hit = get(app)
    assert hit.headers["X-Cache"] == "HIT" and not hit.below_flask


def test_an_environ_twin_keeps_such_hits_below_flask():
    def by_header() -> str:
        return request.headers.get("X-Client", "anon")

    def twin(environ: Any) -> str:
        return str(environ.get("HTTP_X_CLIENT", "anon"))

    app = Flask("twin")
    app.config.update(TESTING=True, RATELIMIT_HEADERS_ENABLED=True)
    limiter = Limiter(by_header, app=app, storage_uri="memory://", default_limits=["3 per minute"])
    ResponseCache(app, charge=LimiterCharge(limiter, environ_functions={by_header: twin}))

    @app.get("/item")
    @cache_response(ttl=60, scope="public")
    def item() -> dict[str, str]:
        return {}

    client = app.test_client()
    answers = [client.get("/item", headers={"X-Client": "c1"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert client.get("/item", headers={"X-Client": "c2"}).status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"meta_limits": ["10 per hour"]},
        {"default_limits_deduct_when": lambda response: True},
        {"default_limits_cost": lambda: 1},
        {"default_limits_exempt_when": lambda: False},
        {"request_identifier": lambda: "everything"},
    ],
    ids=["meta-limits", "deduct-when", "callable-cost", "exempt-when", "request-identifier"],
)
def test_limits_it_cannot_reproduce_send_hits_to_flask(options):
    app = build(**options)
    get(app)
    hit = get(app)
    assert hit.status_code == 200 and not hit.below_flask


def test_a_moving_window_is_counted_with_the_limiters_own_strategy():
    app = build(strategy="moving-window")
    answers = [get(app) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[2].below_flask


def test_with_the_limiter_disabled_hits_are_free():
    app = Flask("off")
    app.config.update(TESTING=True, RATELIMIT_ENABLED=False)
    Limiter(get_remote_address, app=app, default_limits=["1 per minute"])
    ResponseCache(app)

    @app.get("/item")
    @cache_response(ttl=60, scope="public")
    def item() -> dict[str, str]:
        return {}

    client = app.test_client()
    assert [client.get("/item").status_code for _ in range(3)] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in client.get("/item").headers
