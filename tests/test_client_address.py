"""Who a client is for rate limiting: the socket peer, ProxyFix only behind trusted proxies,
IPv6 grouped by /64."""

from __future__ import annotations

import pytest
from flask import Flask

from extensions import db
from middleware.rate_limits import client_address

POSTS = "/api/v1/posts"


@pytest.mark.parametrize(
    ("remote_addr", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("", "invalid"),
        ("not-an-address", "invalid"),
        ("203.0.113.9, 10.0.0.1", "invalid"),
    ],
)
def test_client_address_key(remote_addr, key):
    app = Flask(__name__)
    with app.test_request_context(environ_overrides={"REMOTE_ADDR": remote_addr}):
        assert client_address() == key


def get(client, **environ):
    return client.get(POSTS, environ_overrides=environ).status_code


def test_spoofed_forwarded_for_from_a_direct_client_changes_nothing(make_app):
    client = make_app(RATELIMIT_API="3 per minute").test_client()
    codes = [
        client.get(POSTS, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]  # all in 127.0.0.1's bucket


def test_ipv6_clients_in_one_64_share_a_bucket(make_app):
    client = make_app(RATELIMIT_API="3 per minute").test_client()
    same_64 = ["2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff::9", "2001:db8:0:1::abc"]
    assert [get(client, REMOTE_ADDR=a) for a in same_64] == [200, 200, 200, 429]
    assert get(client, REMOTE_ADDR="2001:db8:0:2::1") == 200  # the next /64 is someone else
    assert get(client, REMOTE_ADDR="203.0.113.1") == 200


@pytest.fixture
def proxied_app(monkeypatch, tmp_path):
    """The production wiring: wsgi.build_app() from the environment, one trusted proxy."""
    for name in ("REDIS_URL", "REDIS_HOST", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "testing")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'proxied.db'}")
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    monkeypatch.setenv("RATELIMIT_API", "2 per minute")
    import wsgi

    app = wsgi.build_app()
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_behind_one_trusted_proxy_each_client_gets_its_own_bucket(proxied_app):
    client = proxied_app.test_client()

    def via_proxy(forwarded_for: str) -> int:
        response = client.get(
            POSTS,
            headers={"X-Forwarded-For": forwarded_for},
            environ_overrides={"REMOTE_ADDR": "10.0.0.2"},
        )
        return response.status_code

    assert [via_proxy("203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert via_proxy("203.0.113.8") == 200  # a different client, a different bucket
    # A client that forges entries in front of the proxy's own: only the last one counts.
    assert [via_proxy(f"198.51.100.{i}, 203.0.113.8") for i in range(2)] == [200, 429]
