"""``/admin`` and ``/login`` over HTTP (item 2); the browser flow is in tests/browser.

Contract: anonymous -> 302 to ``/login?next=/admin``; non-admin -> a 403 HTML page; session store
unreadable -> a 503 HTML page; admin -> every cacheable route with scope, TTL, state, hit ratio
and counters. Every page: ``Cache-Control: no-store``, a strict CSP, only local assets.
"""

from __future__ import annotations

import re

import pytest

from blueprints.dashboard import RouteRow, hit_ratio, safe_next
from tests.observability.conftest import Assets, signed_in
from tests.support.fake_clock import FakeClock


def _assert_html_page(response) -> None:
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    parser = Assets()
    parser.feed(response.get_data(as_text=True))
    external = [url for url in parser.urls if re.match(r"^(https?:)?//", url)]
    assert external == [], external


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin"
    assert response.headers["Cache-Control"] == "no-store"


def test_login_page_is_a_local_no_store_form(client):
    response = client.get("/login?next=/admin")
    assert response.status_code == 200
    _assert_html_page(response)
    html = response.get_data(as_text=True)
    assert 'id="login-form"' in html and 'data-next="/admin"' in html


@pytest.mark.parametrize(
    "given, kept",
    [
        ("/admin", "/admin"),
        ("/api/docs", "/api/docs"),
        ("https://evil.example/", "/admin"),
        ("//evil.example/", "/admin"),
        ("/\\evil.example", "/admin"),
        ("javascript:alert(1)", "/admin"),
        ("/admin?x=<script>", "/admin"),
        (None, "/admin"),
    ],
)
def test_login_only_redirects_to_local_paths(given, kept):
    assert safe_next(given) == kept


def test_non_admin_users_get_a_403_page(app):
    client = signed_in(app, "ann@example.com", admin=False)
    response = client.get("/admin")
    assert response.status_code == 403
    _assert_html_page(response)
    html = response.get_data(as_text=True)
    assert "Administrator access required" in html
    assert "ann@example.com" in html and "data-logout" in html
    assert "data-endpoint" not in html  # no route data leaks


def test_admins_see_every_cacheable_route(app):
    client = signed_in(app, "boss@example.com", admin=True)
    response = client.get("/admin")
    assert response.status_code == 200
    _assert_html_page(response)
    html = response.get_data(as_text=True)
    if "is not installed in this app" in html:
        pytest.skip("the cache admin API (blueprints/admin.py) is not registered")
    api = client.get("/api/v1/admin/cache/routes").get_json()
    assert api, "the app declares cacheable routes"
    for route in api:
        assert f'data-endpoint="{route["endpoint"]}"' in html
    for label in ("Scope", "TTL", "Hit ratio", "Stale", "Bypass", "Purge by tag"):
        assert label in html
    assert 'data-admin-api="/api/v1/admin/cache"' in html


def test_dashboard_counters_match_the_admin_api(app):
    client = signed_in(app, "boss@example.com", admin=True)
    anonymous = app.test_client()
    for _ in range(3):
        anonymous.get("/api/v1/posts").get_data()
    html = client.get("/admin").get_data(as_text=True)
    if "is not installed in this app" in html:
        pytest.skip("the cache admin API (blueprints/admin.py) is not registered")
    row = html[html.index('data-endpoint="posts.list_posts"') :]
    row = row[: row.index("</tr>")]
    assert re.search(r'data-field="hit">2<', row) and re.search(r'data-field="miss">1<', row)
    assert "66.7%" in row


def test_session_store_down_gives_a_503_page_not_a_login_loop(make_app, redis_server):
    # Redis-only sessions: the default store (SQL read through Redis) is never down with Redis.
    app = make_app(redis=redis_server, CLOCK=FakeClock(), SESSION_BACKEND="redis")
    client = signed_in(app, "boss@example.com", admin=True)
    redis_server.kill()
    response = client.get("/admin")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    _assert_html_page(response)


def test_hit_ratio_counts_stale_as_served_and_ignores_bypass():
    def row(**counters: int) -> RouteRow:
        full = {"hit": 0, "miss": 0, "stale": 0, "bypass": 0, "store": 0, "error": 0, **counters}
        return RouteRow("e", "/r", "public", 60, 60, True, full)

    assert hit_ratio([row(hit=3, stale=1, miss=4, bypass=100)]) == 0.5
    assert hit_ratio([row(bypass=5)]) is None
    assert hit_ratio([row(hit=1), row(miss=1)]) == 0.5
