"""/api/traces: listing with filters and paging, fetching and deleting one trace."""

from __future__ import annotations

import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, summarize

#: Ids are random; these two traces share a prefix on purpose.
TWIN_PREFIX = "abcdef"


@pytest.fixture
def twins(store: TraceStore) -> list[Trace]:
    made = [
        msgspec.structs.replace(make_trace(), id=TWIN_PREFIX + suffix * 18) for suffix in ("0", "1")
    ]
    for trace in made:
        store.save(trace)
    return made


# -- GET /api/traces -------------------------------------------------------------------------


def test_list_empty(client: TestClient) -> None:
    response = client.get("/api/traces")
    assert response.status_code == 200
    assert response.json() == {
        "traces": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
        "next_cursor": None,
    }


def test_list_newest_first_with_summary_fields(client: TestClient, traces: list[Trace]) -> None:
    body = client.get("/api/traces").json()
    assert body["total"] == 5
    assert [t["id"] for t in body["traces"]] == [t.id for t in reversed(traces)]
    # Each entry is exactly the TraceSummary of the trace, as JSON.
    assert body["traces"][-1] == msgspec.to_builtins(summarize(traces[0]))
    streamed = body["traces"][1]
    assert streamed["model"] == "llama3"
    assert streamed["provider"] == "ollama"
    assert streamed["streaming"] is True
    assert streamed["first_chunk_latency_ms"] == 10.0
    assert streamed["total_tokens"] == 15


def test_list_paging(client: TestClient, traces: list[Trace]) -> None:
    newest_first = [t.id for t in reversed(traces)]
    body = client.get("/api/traces", params={"limit": 2, "offset": 1}).json()
    assert [t["id"] for t in body["traces"]] == newest_first[1:3]
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
    past_end = client.get("/api/traces", params={"offset": 10}).json()
    assert past_end["traces"] == []
    assert past_end["total"] == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model": "gpt-4o"}, [4, 1]),
        ({"provider": "ollama"}, [3]),
        ({"status": "error"}, [2]),
        ({"status": "upstream_error"}, [4]),
        ({"streaming": "true"}, [3, 1]),
        ({"streaming": "false"}, [4, 2, 0]),
        ({"streaming": "FALSE", "model": "gpt-4o-mini"}, [2, 0]),
        ({"since": "2026-11-23T08:02:00Z"}, [4, 3, 2]),
        ({"since": "2026-11-23T09:02:00+01:00"}, [4, 3, 2]),
        ({"since": "2026-11-23T08:02:00"}, [4, 3, 2]),  # no offset: UTC
        ({"since": "2026-11-24"}, []),
        ({"model": "nope"}, []),
        ({"model": "", "status": ""}, [4, 3, 2, 1, 0]),  # empty values: no filter
    ],
)
def test_list_filters(
    client: TestClient, traces: list[Trace], params: dict[str, str], expected: list[int]
) -> None:
    body = client.get("/api/traces", params=params).json()
    assert [t["id"] for t in body["traces"]] == [traces[i].id for i in expected]
    assert body["total"] == len(expected)


def test_list_total_counts_filtered_traces_beyond_the_page(
    client: TestClient, traces: list[Trace]
) -> None:
    body = client.get("/api/traces", params={"streaming": "false", "limit": 1}).json()
    assert [t["id"] for t in body["traces"]] == [traces[4].id]
    assert body["total"] == 3


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": "ten"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"status": "broken"}, "status"),
        ({"streaming": "yes"}, "streaming"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-13-01"}, "since"),
    ],
)
def test_list_bad_params_are_400(
    client: TestClient, traces: list[Trace], params: dict[str, str], needle: str
) -> None:
    response = client.get("/api/traces", params=params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert needle in body["error"]


def test_list_limit_bounds_accepted(client: TestClient, traces: list[Trace]) -> None:
    assert client.get("/api/traces", params={"limit": 1}).json()["limit"] == 1
    assert len(client.get("/api/traces", params={"limit": 1000}).json()["traces"]) == 5


# -- GET /api/traces/{id} --------------------------------------------------------------------


def test_get_whole_trace(client: TestClient, traces: list[Trace]) -> None:
    trace = traces[1]
    response = client.get(f"/api/traces/{trace.id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert msgspec.json.decode(response.content, type=Trace) == trace
    body = response.json()
    assert body["metadata"]["streaming"] is True
    assert len(body["chunks"]) == 3
    assert body["response"]["choices"][0]["message"]["content"] == "streamed answer here"


def test_get_by_unique_prefix(client: TestClient, traces: list[Trace]) -> None:
    trace = traces[0]
    # Ids are random hex: 16 digits identify one among a handful.
    response = client.get(f"/api/traces/{trace.id[:16]}")
    assert response.status_code == 200
    assert response.json()["id"] == trace.id


def test_get_ambiguous_prefix_is_409(client: TestClient, twins: list[Trace]) -> None:
    response = client.get(f"/api/traces/{TWIN_PREFIX}")
    assert response.status_code == 409
    body = response.json()
    assert "ambiguous" in body["error"]
    assert sorted(body["matches"]) == sorted(t.id for t in twins)
    # A longer prefix tells them apart.
    assert client.get(f"/api/traces/{twins[1].id[:13]}").json()["id"] == twins[1].id


def test_get_unknown_id_is_404(client: TestClient, traces: list[Trace]) -> None:
    response = client.get("/api/traces/" + "f" * 24)
    assert response.status_code == 404
    assert "no trace" in response.json()["error"]


@pytest.mark.parametrize("bad_id", ["not-hex", "xyz", "0" * 33, "abc.json", "..", "...."])
def test_get_invalid_id_is_400(client: TestClient, traces: list[Trace], bad_id: str) -> None:
    response = client.get(f"/api/traces/{bad_id}")
    # ".." may be normalised away by the client; either way it never reaches a file.
    assert response.status_code in (400, 404)
    assert "error" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/api/traces/..%2F..%2Fetc%2Fpasswd",
        "/api/traces/%2Fetc%2Fpasswd",
        "/api/traces/..%2f..%2findex.sqlite",
        "/api/traces/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/traces/..%5C..%5Cwindows",
        "/api/traces/abc%00def",
        "/api/traces/../../etc/passwd",
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_path_traversal_is_refused(
    client: TestClient, traces: list[Trace], store: TraceStore, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code in (400, 404)
    assert "error" in response.json()
    assert store.count() == len(traces)


def test_corrupt_trace_is_422(client: TestClient, store: TraceStore, traces: list[Trace]) -> None:
    trace = traces[2]
    store.path_for(trace.id).write_text("{not json", encoding="utf-8")
    response = client.get(f"/api/traces/{trace.id}")
    assert response.status_code == 422
    assert "cannot be read" in response.json()["error"]


def test_unsupported_schema_version_is_422(
    client: TestClient, store: TraceStore, traces: list[Trace]
) -> None:
    trace = traces[0]
    doc = msgspec.to_builtins(trace)
    doc["schema_version"] = 999
    store.path_for(trace.id).write_bytes(msgspec.json.encode(doc))
    response = client.get(f"/api/traces/{trace.id}")
    assert response.status_code == 422
    assert response.json()["error"]


# -- DELETE /api/traces/{id} -----------------------------------------------------------------


def test_delete_trace(client: TestClient, store: TraceStore, traces: list[Trace]) -> None:
    trace = traces[3]
    response = client.delete(f"/api/traces/{trace.id}")
    assert response.status_code == 204
    assert response.content == b""
    assert not store.path_for(trace.id).exists()
    assert client.get(f"/api/traces/{trace.id}").status_code == 404
    assert client.get("/api/traces").json()["total"] == 4
    assert client.delete(f"/api/traces/{trace.id}").status_code == 404


def test_delete_by_prefix(client: TestClient, store: TraceStore, traces: list[Trace]) -> None:
    trace = traces[0]
    assert client.delete(f"/api/traces/{trace.id[:16]}").status_code == 204
    assert store.count() == 4


def test_delete_errors(client: TestClient, store: TraceStore, twins: list[Trace]) -> None:
    assert client.delete("/api/traces/not-hex").status_code == 400
    assert client.delete("/api/traces/" + "f" * 24).status_code == 404
    response = client.delete(f"/api/traces/{TWIN_PREFIX}")
    assert response.status_code == 409
    assert sorted(response.json()["matches"]) == sorted(t.id for t in twins)
    assert store.count() == len(twins)


def test_delete_corrupt_trace(client: TestClient, store: TraceStore, traces: list[Trace]) -> None:
    trace = traces[1]
    store.path_for(trace.id).write_text("garbage", encoding="utf-8")
    assert client.delete(f"/api/traces/{trace.id}").status_code == 204
    assert not store.path_for(trace.id).exists()
