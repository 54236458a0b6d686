"""The service face: cache-aside with JSON values, durable key/tag invalidation, patterns."""

from __future__ import annotations

import pytest

from cache import service as service_cache


@pytest.fixture(params=["redis", "embedded"])
def app(request, make_app, redis_server):
    if request.param == "redis":
        return make_app(redis=redis_server)
    return make_app()


def test_get_or_set_calls_loader_once_then_serves_cached(app):
    calls = []

    def load():
        calls.append(1)
        return {"n": len(calls)}

    with app.app_context():
        for _ in range(3):
            value = service_cache.get_or_set("things:1", load, ttl=60)
    assert value == {"n": 1}
    assert len(calls) == 1


def test_none_is_returned_but_not_cached(app):
    calls = []
    with app.app_context():
        for _ in range(2):
            assert service_cache.get_or_set("missing", lambda: calls.append(1), ttl=60) is None
    assert len(calls) == 2


def test_invalidate_key_and_tag(app):
    with app.app_context():
        service_cache.get_or_set("a", lambda: 1, ttl=60, tags=["group"])
        service_cache.get_or_set("b", lambda: 2, ttl=60, tags=["group"])
        service_cache.get_or_set("c", lambda: 3, ttl=60)
        service_cache.invalidate("c")
        assert service_cache.get_or_set("c", lambda: 30, ttl=60) == 30
        service_cache.invalidate_tags("group")
        assert service_cache.get_or_set("a", lambda: 10, ttl=60) == 10
        assert service_cache.get_or_set("b", lambda: 20, ttl=60) == 20


def test_invalidate_pattern_is_bounded_scoped_and_has_a_dry_run(app):
    with app.app_context():
        for page in range(5):
            service_cache.get_or_set(f"posts:list:page={page}", str(page).__str__, ttl=60)
        service_cache.get_or_set("users:1:posts", lambda: "keep", ttl=60)
        listed = service_cache.invalidate_pattern("posts:list:*", dry_run=True)
        assert len(listed) == 5
        assert service_cache.get_or_set("posts:list:page=1", lambda: "new", ttl=60) == "1"
        assert len(service_cache.invalidate_pattern("posts:list:*", limit=2)) == 2
        service_cache.invalidate_pattern("posts:list:*")
        assert service_cache.get_or_set("posts:list:page=1", lambda: "new", ttl=60) == "new"
        assert service_cache.get_or_set("users:1:posts", lambda: "x", ttl=60) == "keep"


def test_http_prefixed_keys_are_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        service_cache.get_or_set("http:posts", lambda: 1, ttl=60)


def test_pattern_purge_never_touches_session_or_limiter_keys(make_app, redis_server):
    app = make_app(redis=redis_server)
    plain = redis_server.client()
    plain.set("sess:abc", b"session")
    plain.set("rl/LIMITER/x", b"1")
    with app.app_context():
        service_cache.get_or_set("k", lambda: 1, ttl=60)
        service_cache.invalidate_pattern("*")
    assert plain.get("sess:abc") == b"session"
    assert plain.get("rl/LIMITER/x") == b"1"
