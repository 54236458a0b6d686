"""Browser sign-in (issue 8, items 2 and 3): the ``/login`` page and who may see the dashboard.

Contract: wrong credentials show a clear message and keep the visitor on ``/login``; a user who
is not an administrator gets the 403 page (no route data) and can log out from it; the session
cookie is HttpOnly and SameSite=Lax, and sign-in uses the API's JSON endpoint (same CSRF rules).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import NOT_ADMIN, log_in, save_screenshot

pytestmark = pytest.mark.browser


def test_wrong_password_is_refused_with_a_message(page):
    from playwright.sync_api import expect

    log_in(page, NOT_ADMIN, password="not-the-password")
    expect(page.locator("#login-error")).to_have_text("Invalid e-mail or password.")
    save_screenshot(page, "login-refused.png")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert [c for c in page.context.cookies() if c["name"] == "session"] == []


def test_the_dashboard_refuses_a_user_who_is_not_an_administrator(page):
    from playwright.sync_api import expect

    requests: list[tuple[str, str, str | None]] = []
    page.on(
        "request",
        lambda r: requests.append((r.method, r.url, r.headers.get("content-type"))),
    )
    log_in(page, NOT_ADMIN)
    expect(page).to_have_url(re.compile(r"/admin$"))
    login_calls = [r for r in requests if r[1].endswith("/api/v1/auth/login")]
    assert login_calls and all(
        m == "POST" and (ct or "").startswith("application/json") for m, _, ct in login_calls
    )
    response = page.goto("/admin")
    assert response is not None and response.status == 403
    assert response.headers["cache-control"] == "no-store"
    expect(page.get_by_role("heading", name="Administrator access required")).to_be_visible()
    expect(page.locator("tr[data-endpoint]")).to_have_count(0)
    save_screenshot(page, "dashboard-403.png")
    assert page.request.get("/api/v1/admin/cache/routes").status == 403

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert page.request.get("/api/v1/auth/me").status == 401
