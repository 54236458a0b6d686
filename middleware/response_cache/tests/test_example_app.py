# mypy: allow-untyped-defs, allow-incomplete-defs
"""The example app (``examples/app.py``) behaves as its comments say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "app.py"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("PARTNER_KEY", "k")
    monkeypatch.delenv("REDIS_URL", raising=False)
    spec = importlib.util.spec_from_file_location("example_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "example_app", module)
    spec.loader.exec_module(module)
    module.app.config["TESTING"] = True
    return module


def test_public_posts_are_served_from_the_cache(example):
    client = example.app.test_client()
    assert client.get("/posts").headers["X-Cache"] == "MISS"
    hit = client.get("/posts")
    assert hit.headers["X-Cache"] == "HIT" and hit.get_json() == {"posts": ["hello", "world"]}
    assert "X-RateLimit-Remaining" in hit.headers  # the limiter counted the hit


def test_the_partner_feed_is_never_served_without_the_key(example):
    client = example.app.test_client()
    assert client.get("/partners/feed", headers={"X-Api-Key": "k"}).status_code == 200
    assert client.get("/partners/feed", headers={"X-Api-Key": "k"}).headers["X-Cache"] == "HIT"
    refused = client.get("/partners/feed")
    assert refused.status_code == 403 and b"partners only" not in refused.data


def test_each_user_gets_their_own_entry(example):
    ann, bob = example.app.test_client(), example.app.test_client()
    for client, name in ((ann, "ann"), (bob, "bob")):
        with client.session_transaction() as session:
            session["user"] = name
    assert ann.get("/me").get_json() == {"user": "ann"}
    assert ann.get("/me").headers["X-Cache"] == "HIT"
    assert bob.get("/me").get_json() == {"user": "bob"}
    assert example.app.test_client().get("/me").status_code == 401
