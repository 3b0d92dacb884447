"""GET /api/export: traces streamed as JSON, JSON lines or CSV."""

from __future__ import annotations

import csv
import io

import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, TraceSummary, summarize

from .factories import BASE_EPOCH


def _newest_first(traces: list[Trace]) -> list[Trace]:
    return sorted(traces, key=lambda t: (t.timestamp, t.id), reverse=True)


def test_export_json(client: TestClient, all_traces: list[Trace]) -> None:
    response = client.get("/api/export", params={"format": "json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == 'attachment; filename="traces.json"'
    exported = msgspec.json.decode(response.content, type=list[Trace])
    assert exported == _newest_first(all_traces)  # whole traces: chunks, native bodies


def test_export_json_of_nothing_is_an_empty_array(client: TestClient) -> None:
    response = client.get("/api/export", params={"format": "json"})
    assert response.json() == []


def test_export_jsonl_is_the_default(client: TestClient, all_traces: list[Trace]) -> None:
    response = client.get("/api/export")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == 'attachment; filename="traces.jsonl"'
    lines = response.content.decode().splitlines()
    assert [msgspec.json.decode(line, type=Trace) for line in lines] == _newest_first(all_traces)


def test_export_csv(client: TestClient, all_traces: list[Trace]) -> None:
    response = client.get("/api/export", params={"format": "csv"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(TraceSummary.__struct_fields__)
    assert [row["id"] for row in rows] == [t.id for t in _newest_first(all_traces)]
    gemini = next(row for row in rows if row["id"] == all_traces[7].id)
    expected = summarize(all_traces[7])
    assert gemini["provider"] == "gemini"
    assert gemini["streaming"] == "true"
    assert float(gemini["latency_ms"]) == expected.latency_ms
    assert int(gemini["total_tokens"]) == expected.total_tokens
    plain = next(row for row in rows if row["id"] == all_traces[0].id)
    assert (plain["streaming"], plain["first_chunk_latency_ms"], plain["cost_usd"]) == (
        "false",
        "",
        "",
    )


@pytest.mark.parametrize("kind", ["json", "jsonl", "csv"])
def test_export_filters(client: TestClient, all_traces: list[Trace], kind: str) -> None:
    params = {"format": kind, "provider": "anthropic", "q": "hello"}
    response = client.get("/api/export", params=params)
    expected = [all_traces[6].id, all_traces[5].id]
    if kind == "json":
        ids = [t["id"] for t in response.json()]
    elif kind == "jsonl":
        ids = [msgspec.json.decode(line)["id"] for line in response.content.splitlines()]
    else:
        ids = [row["id"] for row in csv.DictReader(io.StringIO(response.text))]
    assert ids == expected


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"format": "xml"}, "format"),
        ({"format": "csv", "status": "weird"}, "status"),
        ({"until": "never"}, "until"),
    ],
)
def test_export_bad_params_are_400(
    client: TestClient, all_traces: list[Trace], params: dict[str, str], needle: str
) -> None:
    response = client.get("/api/export", params=params)
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_export_streams_in_pieces(client: TestClient, store: TraceStore) -> None:
    for i in range(250):
        store.save(make_trace(epoch_s=BASE_EPOCH + i, text=f"answer {i}"))
    with client.stream("GET", "/api/export", params={"format": "csv"}) as response:
        pieces = list(response.iter_raw())
    assert len(pieces) >= 2  # rows are sent 200 at a time, not as one body
    rows = list(csv.DictReader(io.StringIO(b"".join(pieces).decode())))
    assert len(rows) == 250
    with client.stream("GET", "/api/export", params={"format": "jsonl"}) as response:
        assert len(list(response.iter_raw())) >= 250  # one trace per piece


def test_export_skips_an_unreadable_trace(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    store.path_for(all_traces[4].id).write_text("{not json", encoding="utf-8")
    exported = msgspec.json.decode(
        client.get("/api/export", params={"format": "json"}).content, type=list[Trace]
    )
    assert [t.id for t in exported] == [
        t.id for t in _newest_first(all_traces) if t.id != all_traces[4].id
    ]
