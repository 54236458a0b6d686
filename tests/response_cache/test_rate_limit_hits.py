"""Rate limits count cache hits: the limiter's hook runs before the cache's."""

from __future__ import annotations

import pytest

POSTS = "/api/v1/posts"


@pytest.fixture(params=["embedded", "redis"])
def app(request, make_app):
    redis = request.getfixturevalue("redis_server") if request.param == "redis" else None
    return make_app(redis=redis, RATELIMIT_API="3 per minute")


def test_a_cache_hit_is_still_rate_limited(app):
    client = app.test_client()
    answers = [client.get(POSTS) for _ in range(4)]
    assert [a.headers.get("X-Cache") for a in answers[:3]] == ["MISS", "HIT", "HIT"]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["X-Cache"] == "BYPASS"  # refused before the cache looked
    assert "Retry-After" in answers[3].headers


def test_hits_carry_the_current_clients_limit_headers_not_the_stored_ones(app):
    first, second = app.test_client(), app.test_client()
    first.get(POSTS)
    hit = second.get(POSTS, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.headers["X-RateLimit-Remaining"] == "2"  # 10.0.0.2's own first request
    again = first.get(POSTS)
    assert again.headers["X-Cache"] == "HIT"
    assert again.headers["X-RateLimit-Remaining"] == "1"
