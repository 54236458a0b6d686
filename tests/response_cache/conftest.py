"""Fixtures for the response cache in this project's app (the package's own tests, on bare
Flask apps, live in ``middleware/response_cache/tests``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask


@pytest.fixture(params=["embedded", "redis"])
def project_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Flask:
    """The project's own app, with the in-process cache and SQL sessions, or on Redis."""
    if request.param == "redis":
        return make_app(redis=request.getfixturevalue("redis_server"))
    return make_app()
