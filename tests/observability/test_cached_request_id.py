"""A cache hit carries the CURRENT request's id, never the one of the request that filled it.

Contract (items 5 and 3 together): ``X-Request-ID`` is per request; a stored response replayed
on a hit must not repeat its filler's id, nor carry two ids. Checked against real Redis and the
in-process store, so the outermost-layer wiring of ``init_observability`` is what is tested.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["redis", "embedded"])
def cached_client(request, make_app):
    if request.param == "redis":
        redis = request.getfixturevalue("redis_server")
        return make_app(redis=redis).test_client()
    return make_app().test_client()


def _get(client, request_id: str | None):
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = client.get("/api/v1/posts", headers=headers)
    response.get_data()
    return response


def test_hit_carries_the_current_request_id(cached_client):
    first = _get(cached_client, "filler-request-1")
    second = _get(cached_client, "reader-request-2")
    if "X-Cache" not in second.headers:
        pytest.skip("the response cache is not wired into create_app (no X-Cache header)")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.headers.getlist("X-Request-ID") == ["reader-request-2"]


def test_hit_without_an_incoming_id_gets_a_fresh_one(cached_client):
    first = _get(cached_client, None)
    second = _get(cached_client, None)
    if second.headers.get("X-Cache") != "HIT":
        pytest.skip("the response cache is not wired into create_app (no HIT)")
    assert len(second.headers.getlist("X-Request-ID")) == 1
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]
