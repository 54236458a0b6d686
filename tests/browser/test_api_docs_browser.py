"""``/api/docs`` in a real browser (issue 8, item 5): Swagger UI renders the app's OpenAPI
document with every request going to this server (the machine has no internet) and no
Content-Security-Policy violation.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import save_screenshot

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_the_api_from_local_assets(page, live_server):
    from playwright.sync_api import expect

    urls: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto("/api/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/posts", exact=True).first).to_be_visible()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Posts API")

    foreign = [u for u in urls if not u.startswith((live_server.base_url, "data:"))]
    assert foreign == []
    assert f"{live_server.base_url}/openapi.json" in urls
    assert problems == []
    save_screenshot(page, "api-docs.png")
