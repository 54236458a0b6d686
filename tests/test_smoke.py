from __future__ import annotations


def test_health_embedded(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "up", "redis": "disabled"}


def test_health_with_redis(make_app, redis_server):
    app = make_app(redis=redis_server)
    r = app.test_client().get("/api/v1/health")
    assert r.get_json()["redis"] == "up"
    redis_server.kill()
    r = app.test_client().get("/api/v1/health")
    assert r.status_code == 200
    assert r.get_json()["redis"] == "down"


def test_login_roundtrip(actions):
    c = actions.signed_in()
    post = actions.create_post(c, tags=["a"])
    assert c.get(f"/api/v1/posts/{post['id']}").status_code == 200
