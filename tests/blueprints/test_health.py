"""GET /api/v1/health: database and Redis states, never an error because Redis is down."""

from __future__ import annotations

from app import create_app

HEALTH = "/api/v1/health"


def test_embedded_mode_reports_redis_disabled(client):
    response = client.get(HEALTH)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "up", "redis": "disabled"}


def test_reports_redis_up_with_a_live_server(make_app, redis_server):
    response = make_app(redis=redis_server).test_client().get(HEALTH)

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "up", "redis": "up"}


def test_reports_redis_down_with_200_when_the_server_dies(make_app, redis_server):
    client = make_app(redis=redis_server).test_client()
    assert client.get(HEALTH).get_json()["redis"] == "up"

    redis_server.kill()
    response = client.get(HEALTH)

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "up", "redis": "down"}


def test_health_is_never_cached(client):
    assert "no-store" in client.get(HEALTH).headers.get("Cache-Control", "")


def test_health_is_not_rate_limited(make_app):
    client = make_app(RATELIMIT_API="2 per minute").test_client()

    statuses = [client.get(HEALTH).status_code for _ in range(5)]

    assert statuses == [200] * 5


def test_an_unreachable_database_is_503_degraded_in_json(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "APP_ENV": "testing",
            "SECRET_KEY": "test-secret-key-0123456789",
            "REDIS_URL": None,
            # A file in a directory that does not exist: SQLite cannot open it.
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'missing' / 'x.db'}",
        }
    )

    response = app.test_client().get(HEALTH)

    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "degraded", "database": "down", "redis": "disabled"}
