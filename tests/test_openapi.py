"""GET /openapi.json: a valid OpenAPI document that describes every route the API serves."""

from __future__ import annotations

import re

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.conftest import PASSWORD

# (path, method) -> statuses the contract promises and the document must list.
CONTRACT = {
    ("/api/v1/health", "get"): {"200", "503"},
    ("/api/v1/auth/register", "post"): {"201", "409", "422"},
    ("/api/v1/auth/login", "post"): {"200", "401", "422"},
    ("/api/v1/auth/logout", "post"): {"204"},
    ("/api/v1/auth/me", "get"): {"200", "401"},
    ("/api/v1/posts", "get"): {"200", "422"},
    ("/api/v1/posts", "post"): {"201", "401", "422"},
    ("/api/v1/posts/{post_id}", "get"): {"200", "404"},
    ("/api/v1/posts/{post_id}", "patch"): {"200", "401", "403", "404", "422"},
    ("/api/v1/posts/{post_id}", "delete"): {"204", "401", "403", "404"},
    ("/api/v1/users/me/posts", "get"): {"200", "401", "422"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(spec):
    return {
        (path, method): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def schema_validator(spec, component):
    """A JSON Schema validator for one component of the document (refs resolved in it)."""
    document = {"components": spec["components"], "$ref": f"#/components/schemas/{component}"}
    return jsonschema.Draft4Validator(document)


def test_document_is_valid_openapi(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]


@pytest.mark.parametrize("path, method", sorted(CONTRACT))
def test_every_contract_route_is_documented_with_its_statuses(spec, path, method):
    operation = operations(spec).get((path, method))

    assert operation is not None, f"{method.upper()} {path} missing from the document"
    assert CONTRACT[(path, method)] <= set(operation["responses"])


def test_every_v1_route_the_app_serves_is_documented(app, spec):
    documented = set(operations(spec))
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):  # /api/docs is the viewer, not the API
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not documented"


def test_list_query_parameters_are_documented(spec):
    params = {p["name"]: p for p in operations(spec)[("/api/v1/posts", "get")]["parameters"]}

    assert set(params) == {"page", "limit", "author_id", "tag"}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["page"]["schema"]["minimum"] == 1


def test_create_documents_the_location_header(spec):
    created = operations(spec)[("/api/v1/posts", "post")]["responses"]["201"]

    assert "Location" in created.get("headers", {})


def test_write_bodies_are_documented_as_json(spec):
    for key in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/posts", "post"),
        ("/api/v1/posts/{post_id}", "patch"),
    ]:
        assert "application/json" in operations(spec)[key]["requestBody"]["content"]


def test_real_responses_match_the_documented_schemas(actions, client, spec):
    """The document is kept in sync: live bodies validate against its own schemas."""
    author = actions.signed_in()
    post = actions.create_post(author, tags=["x"])
    other = actions.signed_in("bob@example.com", "Bob")
    samples = [
        ("Health", client.get("/api/v1/health")),
        ("UserOut", author.get("/api/v1/auth/me")),
        (
            "UserOut",
            client.post(
                "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
            ),
        ),
        ("PostOut", client.get(f"/api/v1/posts/{post['id']}")),
        ("PostPage", client.get("/api/v1/posts")),
        ("PostPage", author.get("/api/v1/users/me/posts")),
        ("ApiError", client.get("/api/v1/posts/999")),
        ("ApiError", author.post("/api/v1/posts", json={})),
        ("ApiError", other.delete(f"/api/v1/posts/{post['id']}")),
    ]
    for component, response in samples:
        assert component in spec["components"]["schemas"], component
        schema_validator(spec, component).validate(response.get_json())


def test_post_schema_requires_every_field_and_nothing_else(spec):
    schema = spec["components"]["schemas"]["PostOut"]

    expected = {"id", "title", "body", "published", "created_at", "updated_at", "author", "tags"}
    assert set(schema["properties"]) == expected
    assert set(schema["required"]) == expected
    assert schema.get("additionalProperties") is False
