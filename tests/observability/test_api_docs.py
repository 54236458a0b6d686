"""``/api/docs`` (item 5): Swagger UI for ``/openapi.json`` from local assets only.

Contract: the page and every asset it names are served by this app (nothing from a CDN), the
vendored files match the checksums recorded in ``static/swagger-ui/README.md``, the page is
``no-store`` and never rate-limited, and the document it loads is the app's OpenAPI document.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.observability.conftest import Assets

SWAGGER = Path(__file__).resolve().parents[2] / "static" / "swagger-ui"


def _asset_urls(html: str) -> list[str]:
    parser = Assets()
    parser.feed(html)
    return [url for url in parser.urls if not url.startswith("data:")]


def test_docs_page_loads_only_local_assets(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    urls = _asset_urls(html)
    assert {"/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css"} <= set(
        urls
    )
    for url in urls:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        asset.close()
    assert 'data-spec-url="/openapi.json"' in html


def test_the_document_it_loads_is_the_apps_openapi(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/posts" in spec["paths"]
    assert "/api/docs" not in spec["paths"]  # the UI is not part of the API


def test_docs_are_never_rate_limited(make_app):
    client = make_app(RATELIMIT_API="1 per minute").test_client()
    for _ in range(4):
        assert client.get("/api/docs").status_code == 200


def test_vendored_files_match_their_recorded_checksums():
    readme = (SWAGGER / "README.md").read_text()
    recorded = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"} <= set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((SWAGGER / name).read_bytes()).hexdigest() == digest, name
