"""``GET /api/docs``: interactive API documentation (Swagger UI) for ``/openapi.json``.

Contract:
- Every asset is served by this app (``static/swagger-ui/``, vendored from upstream's
  ``swagger-ui-dist``; see its README for the version, the checksums and why it is vendored):
  the page works on a machine without internet access and loads nothing from a third party.
- The page loads the document flask-smorest publishes (``api-docs.openapi_json``); "Try it out"
  calls go to this origin with the browser's session, under the API's usual rules.
- ``Cache-Control: no-store`` (the UI is tiny, and a stale page could describe an old API), a
  Content-Security-Policy that allows only this origin, never rate-limited.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, render_template, url_for

from middleware.rate_limits import exempt_from_limits

# "api-docs" is flask-smorest's own blueprint (it serves /openapi.json).
bp = exempt_from_limits(Blueprint("docs_ui", __name__))

DOCS_HEADERS = {
    "Cache-Control": "no-store",
    # Swagger UI sets inline styles and draws icons as data: images.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@bp.get("/api/docs")
def api_docs() -> Response:
    html = render_template(
        "api_docs.html",
        title=current_app.config.get("API_TITLE", "API"),
        spec_url=url_for("api-docs.openapi_json"),
    )
    return Response(html, headers=DOCS_HEADERS)


def init_api_docs(app: Flask) -> None:
    app.register_blueprint(bp)
