"""GET /openapi.json: an OpenAPI 3.1 document that describes every route and its answers."""

from __future__ import annotations

import re
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the env
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from traceforge_shared.trace import Trace, TraceSummary


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _validate(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema of the document, its ``#/components/...`` refs resolved."""
    root = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(instance)


def test_document_header(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "TraceForge API"
    assert "security" not in document


def test_every_route_is_documented(client: TestClient, document: dict[str, Any]) -> None:
    served = {  # a path convertor ({name:path}) is not part of the documented template
        (re.sub(r":\w+\}", "}", route.path), method.lower())
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented


def test_every_operation_has_an_id_and_responses(document: dict[str, Any]) -> None:
    ids = []
    for item in document["paths"].values():
        for operation in item.values():
            ids.append(operation["operationId"])
            assert operation["responses"]
            for parameter in operation.get("parameters", []):
                assert parameter["in"] in ("query", "path")
                assert parameter["schema"]
    assert len(ids) == len(set(ids))


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    refs = _refs(document)
    assert refs
    for ref in refs:
        prefix, _, name = ref.rpartition("/")
        assert prefix == "#/components/schemas"
        assert name in schemas, ref


def test_components_come_from_the_structs(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("Trace", "TraceSummary", "TracePage", "TraceDiff", "Analytics", "TestRun"):
        assert name in schemas
    assert set(schemas["TraceSummary"]["properties"]) == set(TraceSummary.__struct_fields__)
    assert set(schemas["Trace"]["required"]) == {"id", "timestamp", "provider", "model", "endpoint"}
    assert schemas["TestRunRequest"]["properties"]["mode"]["enum"] == ["proxy", "replay"]


def test_answers_match_their_schemas(
    client: TestClient, document: dict[str, Any], all_traces: list[Trace]
) -> None:
    paths = document["paths"]

    def schema_of(path: str, method: str, status: str) -> dict[str, Any]:
        response = paths[path][method]["responses"][status]
        schema: dict[str, Any] = response["content"]["application/json"]["schema"]
        return schema

    trace = all_traces[5]
    cases = [
        ("/api/traces", "get", "200", client.get("/api/traces", params={"limit": 3})),
        ("/api/traces/{trace_id}", "get", "200", client.get(f"/api/traces/{trace.id}")),
        ("/api/traces/{trace_id}", "get", "404", client.get("/api/traces/" + "f" * 24)),
        (
            "/api/traces/diff",
            "get",
            "200",
            client.get("/api/traces/diff", params={"id1": trace.id, "id2": all_traces[0].id}),
        ),
        ("/api/analytics", "get", "200", client.get("/api/analytics")),
        ("/api/config", "get", "200", client.get("/api/config")),
        ("/api/config", "put", "422", client.put("/api/config", json={"yaml": "proxy: 1"})),
        ("/api/tests", "post", "201", client.post("/api/tests", json={"trace_id": trace.id})),
        ("/api/tests", "get", "200", client.get("/api/tests")),
        ("/api/tests/run", "post", "200", client.post("/api/tests/run", json={})),
        ("/api/tests/run", "post", "501", client.post("/api/tests/run", json={"mode": "proxy"})),
        ("/api/health", "get", "200", client.get("/api/health")),
    ]
    for path, method, status, response in cases:
        assert str(response.status_code) == status, (path, response.text)
        _validate(document, schema_of(path, method, status), response.json())
    export = client.get("/api/export", params={"format": "json"})
    content = paths["/api/export"]["get"]["responses"]["200"]["content"]
    _validate(document, content["application/json"]["schema"], export.json())
