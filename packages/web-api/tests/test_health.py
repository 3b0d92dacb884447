"""GET /api/health."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace


def test_health_empty_store(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "traces": 0}


def test_health_counts_traces(client: TestClient, traces: list[Trace]) -> None:
    assert client.get("/api/health").json() == {"status": "ok", "traces": len(traces)}


def test_health_sees_traces_saved_after_start(
    client: TestClient, store: TraceStore, traces: list[Trace]
) -> None:
    store.delete(traces[0].id)
    assert client.get("/api/health").json()["traces"] == len(traces) - 1


def test_unknown_path_is_json_404(client: TestClient) -> None:
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.post("/api/health")
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/config", {"GET", "HEAD", "PUT"}),
        ("DELETE", "/api/tests", {"GET", "HEAD", "POST"}),
        ("PUT", "/api/tests/sky", {"GET", "HEAD", "DELETE"}),
        ("POST", "/api/traces/abc", {"GET", "HEAD", "DELETE"}),
        ("GET", "/api/tests/run/now", None),
        ("DELETE", "/api/traces/diff", {"GET", "HEAD"}),
        ("POST", "/api/export", {"GET", "HEAD"}),
    ],
)
def test_405_lists_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: set[str] | None
) -> None:
    response = client.request(method, path)
    if allow is None:
        assert response.status_code == 404
        return
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}
    assert set(response.headers["allow"].split(", ")) == allow
