"""``GET /metrics``: who may read it, and that it is never cached or rate-limited (item 1).

Contract: ``Authorization: Bearer <METRICS_TOKEN>`` or an administrator's session; otherwise the
JSON error shape (401 with a Bearer challenge, 403 for a non-admin session). ``Cache-Control:
no-store``; no ``X-Cache: HIT`` ever; no rate limit. ``METRICS_TOKEN`` shorter than 16
characters is refused at start-up.
"""

from __future__ import annotations

import pytest

from config import ConfigError, load_config
from tests.observability.conftest import METRICS_TOKEN, scrape, signed_in


@pytest.fixture
def app(make_app):
    return make_app(METRICS_TOKEN=METRICS_TOKEN)


def test_token_reads_metrics_in_prometheus_text_format(client):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "# TYPE http_request_duration_seconds histogram" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_openmetrics_is_served_when_asked_for(client):
    response = client.get(
        "/metrics",
        headers={
            "Authorization": f"Bearer {METRICS_TOKEN}",
            "Accept": "application/openmetrics-text; version=1.0.0",
        },
    )
    assert response.mimetype == "application/openmetrics-text"
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def test_anonymous_gets_401_json_with_a_bearer_challenge(client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.get_json()["status"] == "error"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong-token-0123456789",
        f"Basic {METRICS_TOKEN}",
        "Bearer",
        f"Bearer {METRICS_TOKEN}x",
    ],
)
def test_wrong_credentials_get_401(client, header):
    response = client.get("/metrics", headers={"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.get_json()["message"] == "Invalid metrics token."


def test_no_token_configured_means_bearer_never_works(make_app):
    client = make_app(METRICS_TOKEN=None).test_client()
    response = client.get("/metrics", headers={"Authorization": "Bearer anything-at-all-123456"})
    assert response.status_code == 401


def test_admin_session_reads_metrics(app):
    client = signed_in(app, "boss@example.com", admin=True)
    assert client.get("/metrics").status_code == 200


def test_non_admin_session_gets_403_json(app):
    client = signed_in(app, "ann@example.com", admin=False)
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response.get_json() == {"status": "error", "message": "Administrator access required."}


def test_metrics_are_never_rate_limited(make_app):
    client = make_app(METRICS_TOKEN=METRICS_TOKEN, RATELIMIT_API="1 per minute").test_client()
    assert client.get("/api/v1/posts").status_code == 200
    assert client.get("/api/v1/posts").status_code == 429  # the limit is real
    for _ in range(5):
        scrape(client)


def test_metrics_are_never_served_from_the_cache(client):
    for _ in range(3):
        response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.headers.get("X-Cache") in (None, "BYPASS")
        assert "Age" not in response.headers


@pytest.mark.parametrize("value", ["short", "   ", "x" * 15])
def test_short_tokens_are_refused_at_start_up(value):
    if value.strip():
        with pytest.raises(ConfigError, match="METRICS_TOKEN"):
            load_config({"METRICS_TOKEN": value})
    else:
        assert load_config({"METRICS_TOKEN": value})["METRICS_TOKEN"] is None


def test_token_defaults_to_unset():
    assert load_config({})["METRICS_TOKEN"] is None
    assert load_config({"METRICS_TOKEN": "y" * 16})["METRICS_TOKEN"] == "y" * 16
