"""The OpenAPI document: generated from the views' declarations, complete, valid, served and cacheable."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from flask import Flask, jsonify
from openapi_spec_validator import validate

from reunite import create_app
from reunite import openapi as oa

DOC = "/api/v1/openapi.json"


def _api_operations(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def _document_operations(doc: dict[str, Any]) -> set[str]:
    found = set()
    for path, item in doc["paths"].items():
        rule = path.replace("{", "<").replace("}", ">")
        found |= {f"{method.upper()} {rule}" for method in item if method != "parameters"}
    return found


def test_every_api_route_is_declared(app: Flask) -> None:
    """A new view under /api/ without @oa.api_doc fails here (and is left out of the document)."""
    assert oa.undeclared_routes(app) == []


def test_the_document_lists_exactly_the_api_routes(app: Flask) -> None:
    doc = oa.build(app)
    assert _document_operations(doc) == _api_operations(app)
    assert not any(path for path in doc["paths"] if not path.startswith("/api/"))


def test_an_undeclared_route_is_named_and_left_out() -> None:
    app = create_app("testing")

    @app.get("/api/v1/undeclared-for-test/<thing>")
    def undeclared_for_test(thing: str) -> Any:
        return jsonify(thing=thing)

    assert oa.undeclared_routes(app) == ["undeclared_for_test /api/v1/undeclared-for-test/<thing>"]
    assert "/api/v1/undeclared-for-test/{thing}" not in oa.build(app)["paths"]


def test_the_document_is_valid_openapi_3_1(app: Flask) -> None:
    doc = oa.build(app)
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any structural error or unresolvable $ref


def test_served_public_cacheable_and_conditional(client: Any) -> None:
    resp = client.get(DOC)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert "public" in resp.headers["Cache-Control"]
    assert "max-age=3600" in resp.headers["Cache-Control"]
    etag = resp.headers["ETag"]
    again = client.get(DOC, headers={"If-None-Match": etag})
    assert again.status_code == 304
    doc = resp.get_json()
    assert doc["info"]["title"] == "reunite JSON API"
    assert "/api/v1/openapi.json" in doc["paths"]
    # No session is needed, and none is started by reading it.
    assert "Set-Cookie" not in resp.headers


def test_request_schemas_follow_the_parsers(app: Flask) -> None:
    """The declared bodies refuse what json_body(allowed=...) refuses, and name the same fields."""
    doc = oa.build(app)
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False
    assert set(body["required"]) == {"username", "auth_key"}
    assert body["properties"]["auth_key"]["minLength"] == body["properties"]["auth_key"]["maxLength"] == 43
    claims = doc["paths"]["/api/v1/claims"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert claims == {"$ref": "#/components/schemas/ClaimV1New"}
    assert "id" not in doc["components"]["schemas"]["ClaimV1New"]["properties"]


def test_status_codes_are_documented(app: Flask) -> None:
    doc = oa.build(app)
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(login)
    claim = doc["paths"]["/api/v1/claims/{public_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(claim)
    assert doc["paths"]["/api/v1/claims/{public_id}"]["get"]["security"] == [{"session": []}]
    assert doc["paths"]["/api/v1/claims/{public_id}"]["put"]["security"] == [{"session": [], "csrf": []}]


def _resolved(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    # The document as the root resource, so the component $refs resolve.
    wrapper = dict(doc) | {"$ref": "#/$defs/target", "$defs": {"target": schema}}
    return jsonschema.Draft202012Validator(wrapper)


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("/api/v1/auth/login", "post", {"username": "nobody-here", "auth_key": "A" * 43}, 401),
        ("/api/v1/auth/login", "post", {"username": "x", "auth_key": "A" * 43, "extra": 1}, 400),
        ("/api/v1/claims", "get", None, 401),
        ("/api/v1/auth/params", "get", None, 200),
        ("/api/v1/csrf", "get", None, 200),
    ],
)
def test_real_answers_match_their_declared_schemas(
    app: Flask, api: Any, path: str, method: str, body: Any, status: int
) -> None:
    doc = json.loads(json.dumps(oa.build(app)))
    resp = api.post(path, body) if method == "post" else api.get(path)
    assert resp.status_code == status
    declared = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    _resolved(doc, declared).validate(resp.get_json())


def test_the_error_schema_rejects_a_malformed_error(app: Flask) -> None:
    """The check above can fail: an answer without `message` breaks the Error schema."""
    doc = oa.build(app)
    with pytest.raises(jsonschema.ValidationError):
        _resolved(doc, oa.ERROR).validate({"error": "invalid"})
