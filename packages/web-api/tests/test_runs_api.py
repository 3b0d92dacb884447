"""``/api/runs``, ``/api/sessions`` and the ``span``/``run`` events of ``/api/events``, over
runs stored through the store API: the app's spans written with ``SpanStore.write`` and its
LLM calls saved as traces whose span context makes them children of the agent span."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the env
import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.spans import Span
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.testing_runs import RUN_EPOCH, SampleRun, save_agent_run
from traceforge_shared.trace import SpanContext
from traceforge_web_api import create_app
from traceforge_web_api.feed import TraceFeed
from traceforge_web_api.routes import events

from .factories import LOOPBACK_URL

DEADLINE_S = 10.0


@pytest.fixture
def runs(store: TraceStore) -> list[SampleRun]:
    """Four runs, oldest first: two of session chat-1 (the second failed), one of
    user/9, one without a session, named planner."""
    return [
        save_agent_run(store, session_id="chat-1"),
        save_agent_run(store, session_id="chat-1", epoch_s=RUN_EPOCH + 100, tool_failed=True),
        save_agent_run(store, session_id="user/9", epoch_s=RUN_EPOCH + 200),
        save_agent_run(store, epoch_s=RUN_EPOCH + 300, name="invoke_agent planner"),
    ]


def _ids(body: dict[str, Any]) -> list[str]:
    return [run["trace_id"] for run in body["runs"]]


def test_list_runs_newest_first_with_filters(client: TestClient, runs: list[SampleRun]) -> None:
    body = client.get("/api/runs").json()
    assert _ids(body) == [r.trace_id for r in reversed(runs)]
    assert body["total"] == 4 and body["next_cursor"] is None and body["limit"] == 50
    failed = body["runs"][2]
    assert failed["status"] == "error" and failed["error_count"] == 2
    assert failed["span_count"] == 4 and failed["llm_calls"] == 2
    assert failed["input_tokens"] == 20 and failed["cost_usd"] == pytest.approx(0.00084)

    def ids(**params: str) -> list[str]:
        response = client.get("/api/runs", params=params)
        assert response.status_code == 200, response.text
        return _ids(response.json())

    assert ids(session="chat-1") == [runs[1].trace_id, runs[0].trace_id]
    assert ids(status="error") == [runs[1].trace_id]
    assert ids(q="PLANNER") == [runs[3].trace_id]
    assert ids(kind="agent", since="2026-11-23T08:04:00Z") == [runs[3].trace_id]
    assert ids(until="2026-11-23T08:01:00") == [runs[0].trace_id]
    assert ids(kind="tool") == []


def test_runs_cursor_and_offset_paging(
    client: TestClient, store: TraceStore, runs: list[SampleRun]
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/runs", params=params).json()
        seen += _ids(body)
        if len(seen) == 2:  # a newer run arriving mid-walk does not shift the pages
            save_agent_run(store, epoch_s=RUN_EPOCH + 1000)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [r.trace_id for r in reversed(runs)]
    body = client.get("/api/runs", params={"limit": "2", "offset": "3"}).json()
    assert _ids(body) == [runs[1].trace_id, runs[0].trace_id] and body["total"] == 5


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "failed"}, "status must be one of"),
        ({"kind": "robot"}, "kind must be one of"),
        ({"limit": "0"}, "limit must be an integer"),
        ({"cursor": "not-a-cursor"}, "cursor is not valid"),
        ({"cursor": "WzEsIngiXQ"}, "cursor is not valid"),  # [1,"x"]: not a run id
        ({"cursor": "WzEsIngiXQ", "offset": "2"}, "either offset or cursor"),
        ({"since": "yesterday"}, "since must be an ISO 8601"),
        ({"q": "x" * 300}, "q must be at most 256"),
    ],
)
def test_list_runs_bad_parameters(client: TestClient, params: dict[str, str], words: str) -> None:
    response = client.get("/api/runs", params=params)
    assert response.status_code == 400 and words in response.json()["error"]


def test_run_tree(client: TestClient, runs: list[SampleRun]) -> None:
    run = runs[1]
    response = client.get(f"/api/runs/{run.trace_id[:6].upper()}")
    assert response.status_code == 200, response.text
    tree = response.json()
    assert tree["trace_id"] == run.trace_id and tree["span_count"] == 4 and tree["errors"] == 2
    assert tree["duration_ms"] == 2000.0 and tree["summary"]["session_id"] == "chat-1"
    (root,) = tree["spans"]
    assert root["span_id"] == run.root_span_id and root["depth"] == 0
    first, tool, second = root["children"]
    assert [first["trace_ref"], second["trace_ref"]] == list(run.call_ids)
    assert (first["offset_ms"], first["duration_ms"]) == (100.0, 800.0)
    assert (tool["offset_ms"], tool["duration_ms"]) == (950.0, 250.0)
    assert tool["status"] == "error" and tool["status_message"] == "city not found"
    assert second["source"] == "proxy" and second["usage"]["completion_tokens"] == 5
    # the LLM span's trace is one request away
    assert client.get(f"/api/traces/{first['trace_ref']}").json()["id"] == run.call_ids[0]


def test_run_errors(client: TestClient, store: TraceStore) -> None:
    save_agent_run(store, trace_id="ab" + "1" * 30)
    save_agent_run(store, trace_id="ab" + "2" * 30)
    assert client.get("/api/runs/xyz").status_code == 400
    assert client.get("/api/runs/" + "c" * 32).status_code == 404
    response = client.get("/api/runs/ab")
    assert response.status_code == 409
    assert sorted(response.json()["matches"]) == ["ab" + "1" * 30, "ab" + "2" * 30]
    assert client.post("/api/runs").status_code == 405


def test_sessions(client: TestClient, runs: list[SampleRun]) -> None:
    body = client.get("/api/sessions").json()
    assert [s["session_id"] for s in body["sessions"]] == ["user/9", "chat-1"]
    assert body["total"] == 2 and body["next_offset"] is None
    chat = body["sessions"][1]
    assert (chat["runs"], chat["calls"], chat["errors"]) == (2, 4, 2)
    page = client.get("/api/sessions", params={"limit": "1"}).json()
    assert [s["session_id"] for s in page["sessions"]] == ["user/9"] and page["next_offset"] == 1
    later = client.get("/api/sessions", params={"since": "2026-11-23T08:02:00Z"}).json()
    assert [s["session_id"] for s in later["sessions"]] == ["user/9"]

    detail = client.get("/api/sessions/chat-1").json()
    assert detail["session"]["runs"] == 2
    assert detail["session"]["cost_usd"] == pytest.approx(0.00168)
    assert _ids(detail) == [runs[0].trace_id, runs[1].trace_id]  # oldest first
    slash = client.get("/api/sessions/user%2F9")
    assert slash.status_code == 200 and _ids(slash.json()) == [runs[2].trace_id]
    missing = client.get("/api/sessions/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]


def test_run_routes_are_documented_and_answer_their_schemas(
    client: TestClient, runs: list[SampleRun]
) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    cases = [
        ("/api/runs", "200", client.get("/api/runs", params={"limit": 2})),
        ("/api/runs/{run_id}", "200", client.get(f"/api/runs/{runs[1].trace_id}")),
        ("/api/runs/{run_id}", "404", client.get("/api/runs/" + "c" * 32)),
        ("/api/sessions", "200", client.get("/api/sessions")),
        ("/api/sessions/{session_id}", "200", client.get("/api/sessions/chat-1")),
        ("/api/sessions/{session_id}", "404", client.get("/api/sessions/none")),
    ]
    for path, status, response in cases:
        assert str(response.status_code) == status, (path, response.text)
        schema = paths[path]["get"]["responses"][status]["content"]["application/json"]
        root = {**schema["schema"], "components": document["components"]}
        jsonschema.Draft202012Validator(root).validate(response.json())


def test_run_routes_need_the_token(store: TraceStore, runs: list[SampleRun]) -> None:
    app = create_app(store, token="s3cret")
    with TestClient(app, base_url=LOOPBACK_URL) as client:
        assert client.get("/api/runs").status_code == 401
        assert client.get("/api/sessions/chat-1").status_code == 401
        ok = client.get("/api/runs", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["total"] == 4
    with TestClient(create_app(store), base_url="http://evil.example") as client:
        assert client.get("/api/runs").status_code == 421


# -- live events ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "KEEPALIVE_S", 0.05)


def _next_events(lines: Iterator[str], count: int) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    name: str | None = None
    deadline = time.monotonic() + DEADLINE_S
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            assert name is not None
            found.append((name, msgspec.json.decode(line[len("data: ") :])))
            if len(found) == count:
                return found
        assert time.monotonic() < deadline, f"only {len(found)} of {count} events arrived"
    raise AssertionError("the stream ended")


def _agent_span(run_id: str, span_id: str) -> Span:
    start = int(RUN_EPOCH * 1e9)
    return Span(
        trace_id=run_id,
        span_id=span_id,
        name="invoke_agent support",
        kind="agent",
        start_ns=start,
        end_ns=start + 3_000_000_000,
        status="ok",
        source="otlp",
    )


def test_pushed_feed_announces_a_call_of_a_run_and_spans_received(store: TraceStore) -> None:
    """As in ``traceforge start``: the proxy's ``saved`` hook (writer thread) and the OTLP
    endpoint (``spans_saved``) push to the feed."""
    feed = TraceFeed(store, watch=False)
    run_id, agent = "7" * 32, "a" * 16
    with (
        TestClient(create_app(store, feed=feed), base_url=LOOPBACK_URL) as client,
        client.stream("GET", "/api/events") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        trace = make_trace(epoch_s=RUN_EPOCH + 1)
        trace.span = SpanContext(trace_id=run_id, span_id="b" * 16, parent_span_id=agent)
        trace.session_id = "chat-9"
        store.save(trace)
        thread = threading.Thread(target=feed.saved, args=(trace,))
        thread.start()
        thread.join(DEADLINE_S)
        (name, data), (span_name, span), (run_name, run) = _next_events(lines, 3)
        assert (name, data["id"]) == ("trace", trace.id)
        assert span_name == "span" and span["trace_ref"] == trace.id
        assert span["parent_span_id"] == agent and span["kind"] == "llm"
        assert run_name == "run" and run["trace_id"] == run_id and run["span_count"] == 1
        feed.saved(trace)  # the same trace again: nothing

        agent_span = _agent_span(run_id, agent)
        store.spans.write([agent_span])
        feed.spans_saved([agent_span])
        (span_name, span), (run_name, run) = _next_events(lines, 2)
        assert span_name == "span" and span["span_id"] == agent
        assert run_name == "run" and run["span_count"] == 2
        assert run["name"] == "invoke_agent support" and run["session_id"] == "chat-9"


def test_watched_feed_announces_span_files_of_another_process(store: TraceStore) -> None:
    """The API alone: a span file written by another process (the SDK, an OTLP endpoint
    of another TraceForge) is seen in ``spans/``."""
    other = TraceStore(store.home, fsync=False)
    run_id = "8" * 32
    with (
        TestClient(create_app(store), base_url=LOOPBACK_URL) as client,
        client.stream("GET", "/api/events") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        other.spans.write([_agent_span(run_id, "c" * 16)])
        (span_name, span), (run_name, run) = _next_events(lines, 2)
        assert (span_name, span["span_id"]) == ("span", "c" * 16)
        assert (run_name, run["trace_id"], run["status"]) == ("run", run_id, "ok")


def test_pushed_feed_announces_spans_received_over_otlp(store: TraceStore) -> None:
    """In ``traceforge start`` the feed is pushed (nothing watches ``spans/``): spans that
    arrive at ``POST /v1/traces`` are announced by the OTLP route itself."""
    feed = TraceFeed(store, watch=False)
    run_id, span_id = "9" * 32, "d" * 16
    start_ns = int(RUN_EPOCH * 1e9)
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": run_id,
                                "spanId": span_id,
                                "name": "plan",
                                "kind": 1,
                                "startTimeUnixNano": str(start_ns),
                                "endTimeUnixNano": str(start_ns + 2_000_000),
                            }
                        ]
                    }
                ]
            }
        ]
    }
    with (
        TestClient(create_app(store, feed=feed), base_url=LOOPBACK_URL) as client,
        client.stream("GET", "/api/events") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        answer = client.post("/v1/traces", json=body)
        assert answer.status_code == 200, answer.text
        (span_name, span), (run_name, run) = _next_events(lines, 2)
        assert (span_name, span["span_id"]) == ("span", span_id)
        assert (run_name, run["trace_id"]) == ("run", run_id)
