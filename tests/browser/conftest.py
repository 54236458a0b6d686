"""Browser tests: Playwright for Python driving the machine's own Chromium (Debian ``chromium``).

- Nothing downloads a browser: Chromium is found with ``shutil.which`` and launched by path with
  headless, offline-friendly flags (ecosystem check, item 8). Without it (or without the
  ``playwright`` package) the tests skip, except under ``CI=true``, where ``.ci/run`` installs
  Chromium and a missing browser is a failure.
- One real server per session: gunicorn (2 workers) on a seeded SQLite database and a private
  redis-server, so sessions, toggles and purges cross processes as in production. The seed's
  ``user1@example.com`` is an administrator, ``user2@example.com`` is not (``cli.DEMO_PASSWORD``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from cli import DEMO_PASSWORD
from tests.support.gunicorn_server import ROOT, GunicornServer, seed_sqlite
from tests.support.redis_server import RedisServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ADMIN = "user1@example.com"
NOT_ADMIN = "user2@example.com"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the browser tests must run (.ci/run installs them)")
    pytest.skip(reason)


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _unavailable("no chromium on PATH (apt-get install chromium)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GunicornServer]:
    workdir = tmp_path_factory.mktemp("browser-server")
    redis = RedisServer(workdir / "redis").start()
    env = {
        "DATABASE_URL": seed_sqlite(workdir / "app.db", users=3, posts=30, tags=3),
        "REDIS_URL": redis.url,
        # The flows below make dozens of API calls from one address.
        "RATELIMIT_API": "10000 per minute",
        "RATELIMIT_AUTH": "10000 per minute",
    }
    server = GunicornServer(env, workdir / "gunicorn", workers=2)
    try:
        yield server.start()
    finally:
        server.stop()
        redis.stop()


@pytest.fixture
def page(browser: Browser, live_server: GunicornServer) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Through the sign-in page, as a person would."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def http_get(server: GunicornServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """An anonymous client outside the browser (no cookies), like any API consumer."""
    request = urllib.request.Request(server.base_url + path)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def x_cache_becomes(server: GunicornServer, path: str, wanted: set[str], within: float) -> str:
    """Poll the server until ``path`` answers one of ``wanted`` (toggles: within a second)."""
    deadline = time.monotonic() + within
    seen = ""
    while time.monotonic() < deadline:
        seen = http_get(server, path)[1].get("X-Cache", "")
        if seen in wanted:
            return seen
        time.sleep(0.05)  # polling a server, not standing in for a clock
    raise AssertionError(f"{path}: X-Cache stayed {seen!r}, wanted {sorted(wanted)} in {within}s")


def admin_routes(page: Page) -> list[dict[str, Any]]:
    """The admin API's view of the routes, with the browser's session."""
    response = page.request.get("/api/v1/admin/cache/routes")
    assert response.ok, response.text()
    routes: list[dict[str, Any]] = json.loads(response.text())
    return routes


def save_screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
