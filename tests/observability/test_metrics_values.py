"""What ``/metrics`` reports (item 1): per-endpoint cache outcomes from ``X-Cache``, latency by
outcome, responses by status, 429s, the circuit breaker's state and pending invalidations.

Contract: per-request series come from the finished response only; breaker state and pending
invalidations are read at scrape time (see ``observability/metrics.py``).
"""

from __future__ import annotations

import json

import pytest

from extensions import db
from models import cache_outbox
from observability.metrics import Metrics
from observability.request_log import Observation
from tests.observability.conftest import METRICS_TOKEN, metric, scrape, signed_in
from tests.support.fake_clock import FakeClock

LIST = "posts.list_posts"


@pytest.fixture
def app(make_app):
    return make_app(METRICS_TOKEN=METRICS_TOKEN)


def _get(client, path, **kwargs):
    response = client.get(path, **kwargs)
    response.get_data()  # the observation is made when the body has been sent
    return response


def test_cache_outcomes_and_latency_are_counted_per_endpoint(client):
    seen = [_get(client, "/api/v1/posts").headers.get("X-Cache") for _ in range(3)]
    if seen == [None] * 3:
        pytest.skip("the response cache is not wired into create_app (no X-Cache header)")
    assert seen == ["MISS", "HIT", "HIT"]
    text = scrape(client)
    assert metric(text, "response_cache_outcomes_total", endpoint=LIST, outcome="miss") == 1
    assert metric(text, "response_cache_outcomes_total", endpoint=LIST, outcome="hit") == 2
    count = "http_request_duration_seconds_count"
    assert metric(text, count, endpoint=LIST, cache="hit") == 2
    assert metric(text, count, endpoint=LIST, cache="miss") == 1
    assert (
        metric(text, "http_request_duration_seconds_bucket", endpoint=LIST, cache="hit", le="+Inf")
        == 2
    )


def test_a_logged_in_request_to_a_public_route_counts_as_bypass(app):
    client = signed_in(app, "ann@example.com", admin=False)
    response = _get(client, "/api/v1/posts")
    if "X-Cache" not in response.headers:
        pytest.skip("the response cache is not wired into create_app (no X-Cache header)")
    assert response.headers["X-Cache"] == "BYPASS"
    text = scrape(app.test_client())
    assert metric(text, "response_cache_outcomes_total", endpoint=LIST, outcome="bypass") == 1


def test_responses_are_counted_by_status(client):
    _get(client, "/api/v1/posts/99")
    _get(client, "/api/v1/posts")
    _get(client, "/definitely/not/here")
    text = scrape(client)
    assert metric(text, "http_responses_total", endpoint="posts.get_post", status="404") == 1
    assert metric(text, "http_responses_total", endpoint=LIST, status="200") == 1
    assert metric(text, "http_responses_total", endpoint="unmatched", status="404") == 1


def test_rate_limit_rejections_are_counted(make_app):
    client = make_app(METRICS_TOKEN=METRICS_TOKEN, RATELIMIT_API="2 per minute").test_client()
    statuses = [_get(client, "/api/v1/posts").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert metric(scrape(client), "rate_limit_rejections_total", endpoint=LIST) == 2


def test_breaker_state_is_read_at_scrape_time(make_app, redis_server):
    app = make_app(redis=redis_server, METRICS_TOKEN=METRICS_TOKEN, CLOCK=FakeClock())
    client = app.test_client()
    text = scrape(client)
    assert metric(text, "redis_circuit_breaker_state", state="closed") == 1
    assert metric(text, "redis_circuit_breaker_state", state="open") == 0

    redis_server.pause()  # hung: the first Redis call times out and opens the circuit
    try:
        assert _get(client, "/api/v1/posts").status_code == 200
        text = scrape(client)
    finally:
        redis_server.resume()
    assert metric(text, "redis_circuit_breaker_state", state="open") == 1
    assert metric(text, "redis_circuit_breaker_state", state="closed") == 0


def test_breaker_state_is_absent_in_embedded_mode(client):
    assert "redis_circuit_breaker_state" not in scrape(client)


def test_pending_invalidations_count_unapplied_outbox_rows(app):
    client = app.test_client()
    assert metric(scrape(client), "cache_invalidations_pending") == 0
    with app.app_context():
        for applied in (False, False, False, True):
            db.session.execute(
                cache_outbox.insert().values(tags=json.dumps(["posts"]), applied=applied)
            )
        db.session.commit()
    assert metric(scrape(client), "cache_invalidations_pending") == 3


def test_cache_store_counters_are_exported_when_the_cache_has_them(client):
    for _ in range(2):
        _get(client, "/api/v1/posts")
    text = scrape(client)
    if "response_cache_stores_total" not in text:
        pytest.skip("the response cache is not wired into create_app")
    assert metric(text, "response_cache_stores_total", endpoint=LIST) == 1
    assert metric(text, "response_cache_errors_total", endpoint=LIST) == 0


def _observation(endpoint: str | None, status: int, cache: str | None) -> Observation:
    return Observation("id", "GET", endpoint, "/rule", status, 0.0004, cache)


def test_observe_maps_x_cache_values_to_bounded_labels():
    metrics = Metrics(multiprocess=False)
    for cache in ("HIT", "STALE", "MISS", "BYPASS", None, "SOMETHING-ELSE"):
        metrics.observe(_observation("posts.list_posts", 200, cache))
    metrics.observe(_observation(None, 429, None))
    assert metrics.registry is not None
    value = metrics.registry.get_sample_value
    for outcome in ("hit", "stale", "miss", "bypass"):
        labels = {"endpoint": LIST, "outcome": outcome}
        assert value("response_cache_outcomes_total", labels) == 1
    assert value("http_request_duration_seconds_count", {"endpoint": LIST, "cache": "none"}) == 2
    assert value("rate_limit_rejections_total", {"endpoint": "unmatched"}) == 1
    # 0.4 ms lands in the first bucket: hits are told apart from misses.
    first = {"endpoint": LIST, "cache": "hit", "le": "0.0005"}
    assert value("http_request_duration_seconds_bucket", first) == 1
