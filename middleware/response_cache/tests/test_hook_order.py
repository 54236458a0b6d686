# mypy: allow-untyped-defs, allow-incomplete-defs
"""Guards and limits always run before a hit is served, whatever the app registers and in
which order: on the Flask path (the cache answers inside the view) and on the fast path
(it serves only routes whose every hook and outer decorator was declared safe to skip)."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
from flask import Blueprint, Flask, abort, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_response_cache import ResponseCache, cache_response, fast_hit_safe
from flask_response_cache.state import state_for

ORDERS = ["cache-first", "limiter-first"]


def build(order: str, *, fast_path: bool = True, limit: str = "3 per minute") -> Flask:
    """An app with a public route, a guarded blueprint route and Flask-Limiter, the cache
    and the limiter initialised in ``order``."""
    app = Flask(f"hooks-{order}")
    app.config.update(
        TESTING=True, RESPONSE_CACHE_FAST_PATH=fast_path, RATELIMIT_HEADERS_ENABLED=True
    )
    app.calls = 0  # type: ignore[attr-defined]
    limiter = Limiter(get_remote_address, default_limits=[limit], storage_uri="memory://")
    if order == "cache-first":
        ResponseCache(app)
        limiter.init_app(app)
    else:
        limiter.init_app(app)
        ResponseCache(app)

    @app.get("/public")
    @cache_response(ttl=60, scope="public")
    def public() -> dict[str, Any]:
        app.calls += 1  # type: ignore[attr-defined]
        return {"calls": app.calls}  # type: ignore[attr-defined]

    partner = Blueprint("partner", __name__)

    @partner.before_request
    def require_api_key() -> None:
        if request.headers.get("X-Api-Key") != "k":
            abort(403)

    @partner.get("/feed")
    @cache_response(ttl=60, scope="public")
    def feed() -> dict[str, Any]:
        return {"secret_feed": True}

    app.register_blueprint(partner)
    return app


def client_for(app: Flask, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "flask-path"])
@pytest.mark.parametrize("order", ORDERS)
def test_a_guarded_route_is_never_served_to_a_request_the_guard_refuses(order, fast_path):
    app = build(order, fast_path=fast_path)
    keyed = client_for(app, "10.0.0.1")
    assert keyed.get("/feed", headers={"X-Api-Key": "k"}).headers["X-Cache"] == "MISS"
    assert keyed.get("/feed", headers={"X-Api-Key": "k"}).headers["X-Cache"] == "HIT"
    refused = client_for(app, "10.0.0.2").get("/feed")
    assert refused.status_code == 403
    assert "secret_feed" not in refused.get_data(as_text=True)
    assert refused.headers["X-Cache"] == "BYPASS"
    assert refused.headers["Cache-Status"].endswith("detail=not-looked-up")


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "flask-path"])
@pytest.mark.parametrize("order", ORDERS)
def test_hits_are_rate_limited_in_both_orders(order, fast_path):
    app = build(order, fast_path=fast_path)
    client = client_for(app, "10.0.0.3")
    answers = [client.get("/public") for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["X-Cache"] for a in answers[:3]] == ["MISS", "HIT", "HIT"]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert app.calls == 1  # type: ignore[attr-defined]
    assert client_for(app, "10.0.0.4").get("/public").status_code == 200  # its own bucket


@pytest.mark.parametrize("order", ORDERS)
def test_public_hits_are_answered_below_flask_with_the_limiter_counting(order):
    app = build(order)
    seen: list[str] = []

    @app.before_request
    @fast_hit_safe("a test probe: records the requests Flask saw")
    def record() -> None:
        seen.append(request.path)

    client = client_for(app, "10.0.0.5")
    client.get("/public")
    hit = client.get("/public")
    assert hit.headers["X-Cache"] == "HIT" and hit.headers["X-RateLimit-Remaining"] == "1"
    assert seen == ["/public"]  # the hit never reached Flask


def test_an_app_hook_registered_after_the_cache_runs_on_every_hit():
    app = Flask("maintenance")
    app.config["TESTING"] = True
    ResponseCache(app)
    app.maintenance = False  # type: ignore[attr-defined]

    @app.get("/page")
    @cache_response(ttl=60, scope="public")
    def page() -> dict[str, str]:
        return {"page": "content"}

    @app.before_request
    def maintenance_switch() -> Any:
        if app.maintenance:  # type: ignore[attr-defined]
            return {"down": "for maintenance"}, 503
        return None

    client = app.test_client()
    client.get("/page")
    assert client.get("/page").headers["X-Cache"] == "HIT"
    app.maintenance = True  # type: ignore[attr-defined]
    answers = [client.get("/page") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert all(a.get_json() == {"down": "for maintenance"} for a in answers)


def test_a_decorator_above_cache_response_runs_before_every_hit():
    app = Flask("decorated")
    app.config["TESTING"] = True
    ResponseCache(app)

    def require_token(view: Any) -> Any:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if request.args.get("token") != "t":
                abort(401)
            return view(*args, **kwargs)

        return guarded

    @app.get("/report")
    @require_token
    @cache_response(ttl=60, scope="public", query=[])
    def report() -> dict[str, bool]:
        return {"report": True}

    client = app.test_client()
    assert client.get("/report?token=t").headers["X-Cache"] == "MISS"
    assert client.get("/report?token=t").headers["X-Cache"] == "HIT"
    refused = client.get("/report")  # the same entry name: the token is not keyed
    assert refused.status_code == 401 and "report" not in refused.get_data(as_text=True)


def test_routes_with_an_undeclared_guard_stay_on_the_flask_path_and_say_why(caplog):
    app = build("cache-first")
    with caplog.at_level(logging.WARNING, logger="flask_response_cache"):
        client_for(app, "10.0.0.6").get("/feed", headers={"X-Api-Key": "k"})
    lines = [r.getMessage() for r in caplog.records if "partner.feed" in r.getMessage()]
    assert len(lines) == 1
    assert "answered through Flask, after every request hook" in lines[0]
    assert "require_api_key" in lines[0]
    assert not [r for r in caplog.records if "hits of public " in r.getMessage()]


def test_limiter_decorated_below_the_cache_is_refused():
    from flask_response_cache import ResponseCacheConfigError

    limiter = Limiter(get_remote_address, storage_uri="memory://")
    with pytest.raises(ResponseCacheConfigError, match="escape"):

        @cache_response(ttl=60, scope="public")
        @limiter.limit("1 per minute")
        def view() -> dict[str, str]:
            return {}


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "flask-path"])
def test_a_limit_decorated_above_the_cache_counts_hits(fast_path):
    app = Flask("decorated-limit")
    app.config.update(TESTING=True, RESPONSE_CACHE_FAST_PATH=fast_path)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")
    ResponseCache(app)

    @app.get("/scarce")
    @limiter.limit("2 per minute")
    @cache_response(ttl=60, scope="public")
    def scarce() -> dict[str, str]:
        return {"scarce": "yes"}

    reached_flask = []
    fast = state_for(app).fast_path
    if fast is not None:
        inner = fast.wsgi_app

        def counting(environ: Any, start_response: Any) -> Any:
            reached_flask.append(environ["PATH_INFO"])
            return inner(environ, start_response)

        fast.wsgi_app = counting
    client = client_for(app, "10.0.0.7")
    statuses = [client.get("/scarce").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    if fast_path:  # the hit was counted below Flask; the refusals came from Flask-Limiter
        assert len(reached_flask) == 3
