"""GET /api/traces/diff: the shared diff of two traces."""

from __future__ import annotations

import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.diff import diff_traces
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace


def test_diff_of_two_provider_traces(client: TestClient, all_traces: list[Trace]) -> None:
    streamed, converted = all_traces[5], all_traces[6]
    response = client.get("/api/traces/diff", params={"id1": streamed.id, "id2": converted.id})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == msgspec.to_builtins(diff_traces(streamed, converted))
    assert (body["a"]["id"], body["b"]["id"]) == (streamed.id, converted.id)
    assert (body["a"]["streaming"], body["b"]["streaming"]) == (True, False)
    assert body["a"]["route"] == "passthrough"
    changed = {entry["path"]: entry for entry in body["changed"]}
    answer = changed["response.choices[0].message.content"]
    assert answer["from"].startswith("Hello! I'm doing well, thank you")
    assert answer["to"].startswith("Hello! I'm doing well, thanks")
    removed = {entry["path"] for entry in body["removed"]}
    assert {"request.stream", "request.max_tokens"} <= removed
    assert 0.8 < body["similarity"] < 1.0
    assert body["answer_a"] == streamed.response["choices"][0]["message"]["content"]


def test_diff_across_providers_by_prefix(client: TestClient, all_traces: list[Trace]) -> None:
    gemini, openai = all_traces[8], all_traces[0]
    body = client.get(
        "/api/traces/diff", params={"id1": gemini.id[:12], "id2": openai.id[:12]}
    ).json()
    assert body["a"]["provider"] == "gemini"
    assert body["b"]["provider"] == "openai"
    assert body["similarity"] < 0.3
    assert {"path": "model", "from": "gemini-3-pro-preview", "to": "gpt-4o-mini"} in body["changed"]


def test_diff_with_itself_is_empty(client: TestClient, all_traces: list[Trace]) -> None:
    trace = all_traces[7]
    body = client.get("/api/traces/diff", params={"id1": trace.id, "id2": trace.id}).json()
    assert (body["added"], body["removed"], body["changed"]) == ([], [], [])
    assert body["similarity"] == 1.0
    assert body["truncated"] is False


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({}, 400, "id1 and id2 required"),
        ({"id1": "abc"}, 400, "id2 required"),
        ({"id1": "", "id2": "abc"}, 400, "id1 required"),
        ({"id1": "../etc", "id2": "abc"}, 400, "not a trace id"),
        ({"id1": "f" * 24, "id2": "e" * 24}, 404, "no trace"),
    ],
)
def test_diff_errors(
    client: TestClient, all_traces: list[Trace], params: dict[str, str], status: int, needle: str
) -> None:
    response = client.get("/api/traces/diff", params=params)
    assert response.status_code == status
    assert needle in response.json()["error"]


def test_diff_ambiguous_and_corrupt(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    twins = [msgspec.structs.replace(all_traces[0], id="abc" + s * 21) for s in "01"]
    for trace in twins:
        store.save(trace)
    ambiguous = client.get("/api/traces/diff", params={"id1": "abc", "id2": all_traces[1].id})
    assert ambiguous.status_code == 409
    assert sorted(ambiguous.json()["matches"]) == sorted(t.id for t in twins)
    store.path_for(all_traces[2].id).write_text("{broken", encoding="utf-8")
    corrupt = client.get(
        "/api/traces/diff", params={"id1": all_traces[1].id, "id2": all_traces[2].id}
    )
    assert corrupt.status_code == 422


def test_diff_route_comes_before_trace_id(client: TestClient, all_traces: list[Trace]) -> None:
    # "diff" is not a trace id; the route is matched first, not answered 400 "not hex".
    response = client.get("/api/traces/diff")
    assert response.status_code == 400
    assert "required" in response.json()["error"]
    deleted = client.delete("/api/traces/diff")  # not a trace id: the diff resource
    assert deleted.status_code == 405
    assert deleted.headers["allow"] == "GET, HEAD"
