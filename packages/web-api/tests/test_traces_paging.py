"""GET /api/traces: cursor paging, ``until`` and the full-text filter ``q``."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

from .factories import BASE_EPOCH


def _order(traces: list[Trace]) -> list[str]:
    """Ids in list order: newest first, ties by id descending."""
    return [t.id for t in sorted(traces, key=lambda t: (t.timestamp, t.id), reverse=True)]


def _walk(client: TestClient, limit: int, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/traces", params=query).json()
        pages.append([t["id"] for t in body["traces"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor walk does not end")


@pytest.fixture
def tied(store: TraceStore, all_traces: list[Trace]) -> list[Trace]:
    """The nine traces plus four saved in the same microsecond (ordered by id)."""
    twins = [make_trace(epoch_s=BASE_EPOCH + 200, text=f"twin {i}") for i in range(4)]
    for trace in twins:
        store.save(trace)
    return [*all_traces, *twins]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 13, 50])
def test_cursor_walk_visits_every_trace_once(
    client: TestClient, tied: list[Trace], limit: int
) -> None:
    pages = _walk(client, limit)
    seen = [trace_id for page in pages for trace_id in page]
    assert seen == _order(tied)
    assert all(len(page) == limit for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= limit


def test_next_cursor_is_null_on_the_last_page(client: TestClient, all_traces: list[Trace]) -> None:
    body = client.get("/api/traces", params={"limit": 9}).json()
    assert len(body["traces"]) == 9
    assert body["next_cursor"] is None
    first = client.get("/api/traces", params={"limit": 8}).json()
    last = client.get("/api/traces", params={"limit": 8, "cursor": first["next_cursor"]}).json()
    assert [t["id"] for t in last["traces"]] == [all_traces[0].id]
    assert last["next_cursor"] is None
    assert (last["total"], last["offset"]) == (9, 0)


def test_cursor_walk_with_filters(client: TestClient, tied: list[Trace]) -> None:
    openai = [t for t in tied if t.provider == "openai" and not t.metadata.streaming]
    pages = _walk(client, 2, provider="openai", streaming="false")
    assert [i for page in pages for i in page] == _order(openai)
    recent = [t for t in tied if t.timestamp >= "2026-11-23T08:03:00"]
    pages = _walk(client, 3, since="2026-11-23T08:03:00Z")
    assert [i for page in pages for i in page] == _order(recent)


def test_cursor_is_stable_while_traces_arrive(
    client: TestClient, store: TraceStore, all_traces: list[Trace]
) -> None:
    first = client.get("/api/traces", params={"limit": 4}).json()
    by_offset_before = client.get("/api/traces", params={"limit": 4, "offset": 4}).json()
    store.save(make_trace(epoch_s=BASE_EPOCH + 10_000, text="newer"))
    store.save(make_trace(epoch_s=BASE_EPOCH + 10_001, text="newest"))
    by_cursor = client.get("/api/traces", params={"limit": 4, "cursor": first["next_cursor"]})
    by_offset = client.get("/api/traces", params={"limit": 4, "offset": 4}).json()
    # The cursor page is the page that followed before the new traces; offsets shift.
    assert [t["id"] for t in by_cursor.json()["traces"]] == [
        t["id"] for t in by_offset_before["traces"]
    ]
    assert by_offset["traces"][0]["id"] == first["traces"][2]["id"]


def test_offset_pages_also_carry_a_cursor(client: TestClient, all_traces: list[Trace]) -> None:
    newest_first = _order(all_traces)
    page = client.get("/api/traces", params={"limit": 3, "offset": 2}).json()
    assert [t["id"] for t in page["traces"]] == newest_first[2:5]
    after = client.get("/api/traces", params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert [t["id"] for t in after["traces"]] == newest_first[5:8]


@pytest.mark.parametrize(
    "cursor",
    [
        "nope",
        "!!!",
        "e30",  # {}
        "WyJ4IiwiYWIiXQ",  # ["x","ab"]: not a time
        "WyIyMDI2LTExLTIzVDA4OjAwOjAwWiIsIi4uLy4uIl0",  # id "../.."
        "WyIyMDI2LTExLTIzVDA4OjAwOjAwWiJd",  # one element
        "é",
    ],
)
def test_bad_cursor_is_400(client: TestClient, all_traces: list[Trace], cursor: str) -> None:
    response = client.get("/api/traces", params={"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]


def test_cursor_and_offset_together_is_400(client: TestClient, all_traces: list[Trace]) -> None:
    cursor = client.get("/api/traces", params={"limit": 1}).json()["next_cursor"]
    response = client.get("/api/traces", params={"cursor": cursor, "offset": 1})
    assert response.status_code == 400
    assert "offset" in response.json()["error"]


def test_huge_offset_is_400(client: TestClient, all_traces: list[Trace]) -> None:
    response = client.get("/api/traces", params={"offset": 2**63})
    assert response.status_code == 400
    assert "offset" in response.json()["error"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"until": "2026-11-23T08:02:00Z"}, [1, 0]),
        ({"until": "2026-11-23T09:02:00+01:00"}, [1, 0]),
        ({"since": "2026-11-23T08:01:00Z", "until": "2026-11-23T08:04:00Z"}, [3, 2, 1]),
        ({"until": "2026-11-23"}, []),
        ({"until": ""}, [8, 7, 6, 5, 4, 3, 2, 1, 0]),
    ],
)
def test_until(
    client: TestClient, all_traces: list[Trace], params: dict[str, str], expected: list[int]
) -> None:
    body = client.get("/api/traces", params=params).json()
    assert [t["id"] for t in body["traces"]] == [all_traces[i].id for i in expected]
    assert body["total"] == len(expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("strawberry", [8, 7]),  # gemini requests (and answers)
        ("STRAWBERRY", [8, 7]),  # case-insensitive
        ("how are you", [6, 5]),  # anthropic requests
        ("help you with", [6, 5]),  # anthropic answers
        ("local model", [3]),  # an ollama answer
        ("say hello", [4, 3, 2, 1, 0]),  # the make_trace request
        ("100%", []),  # % is literal
        ("_", []),  # so is _
        ("", [8, 7, 6, 5, 4, 3, 2, 1, 0]),
    ],
)
def test_q_full_text(
    client: TestClient, all_traces: list[Trace], q: str, expected: list[int]
) -> None:
    body = client.get("/api/traces", params={"q": q}).json()
    assert [t["id"] for t in body["traces"]] == [all_traces[i].id for i in expected]
    assert body["total"] == len(expected)


def test_q_with_other_filters_and_cursor(client: TestClient, all_traces: list[Trace]) -> None:
    body = client.get("/api/traces", params={"q": "hello", "provider": "anthropic"}).json()
    assert [t["id"] for t in body["traces"]] == [all_traces[6].id, all_traces[5].id]
    pages = _walk(client, 1, q="strawberry")
    assert pages == [[all_traces[8].id], [all_traces[7].id]]


def test_provider_traces_list_as_summaries(client: TestClient, all_traces: list[Trace]) -> None:
    body = client.get("/api/traces", params={"provider": "gemini", "streaming": "true"}).json()
    (summary,) = body["traces"]
    gemini = all_traces[7]
    assert summary["id"] == gemini.id
    assert summary["model"] == "gemini-3-pro-preview"
    assert summary["total_tokens"] == gemini.metadata.usage.total_tokens  # type: ignore[union-attr]
    assert "chunks" not in summary  # summaries only
    whole = msgspec.json.decode(client.get(f"/api/traces/{gemini.id}").content, type=Trace)
    assert whole == gemini
