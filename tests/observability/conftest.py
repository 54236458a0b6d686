"""Helpers for the observability and dashboard tests: admins, access-log capture, scraping."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD

METRICS_TOKEN = "metrics-token-0123456789abcdef"


def create_user(app: Flask, email: str, *, admin: bool) -> None:
    """Through the real CLI command, as an operator would."""
    args = ["create-user", "--email", email, "--name", email.split("@")[0], "--password", PASSWORD]
    result = app.test_cli_runner().invoke(args=[*args, "--admin"] if admin else args)
    assert result.exit_code == 0, result.output


def signed_in(app: Flask, email: str, *, admin: bool) -> FlaskClient:
    create_user(app, email, admin=admin)
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value, 0.0 when the series does not exist yet."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


class Assets(HTMLParser):
    """Collects every src, href and action URL of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action") and value:
                self.urls.append(value)


class AccessLines(list[dict[str, Any]]):
    def for_endpoint(self, endpoint: str) -> list[dict[str, Any]]:
        return [line for line in self if line["endpoint"] == endpoint]


@pytest.fixture
def access_lines() -> Iterator[AccessLines]:
    """Every JSON line the ``access`` logger writes during the test, decoded."""
    lines = AccessLines()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(record.getMessage()))

    handler = Collect()
    logger = logging.getLogger("access")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
