"""The ``q`` parameter of the trace list and export: the store's full-text search."""

from __future__ import annotations

import msgspec
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

from .factories import BASE_EPOCH


def chat(question: str, answer: str, at: float) -> Trace:
    trace = make_trace(text=answer, epoch_s=BASE_EPOCH + at)
    request = {"model": trace.model, "messages": [{"role": "user", "content": question}]}
    return msgspec.structs.replace(trace, request=request)


def listed(client: TestClient, q: str) -> list[str]:
    response = client.get("/api/traces", params={"q": q})
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["traces"]]


def test_q_matches_every_word_in_any_order(client: TestClient, store: TraceStore) -> None:
    otters = chat("Tell me about otters", "Otters hold hands while sleeping.", 1)
    quote = chat("quote this", 'She said "5* -- (really)"', 2)
    store.save_many([otters, quote])
    assert listed(client, "hands otters") == [otters.id]  # not a substring: every word
    assert listed(client, '"hold hands"') == [otters.id]
    assert listed(client, '"hands hold"') == []
    assert listed(client, '5* -- (really) "') == [quote.id]  # literal, never a 500
    export = client.get("/api/export", params={"q": "hands otters", "format": "jsonl"})
    assert [msgspec.json.decode(line)["id"] for line in export.text.splitlines()] == [otters.id]


def test_q_too_long_or_too_many_words_is_a_clear_400(
    client: TestClient, traces: list[Trace]
) -> None:
    long = client.get("/api/traces", params={"q": "x" * 5_000})
    assert long.status_code == 400
    assert "q must be at most 4096 characters" in long.json()["error"]
    # 50,000 characters: refused before any search by the query-string size limit.
    huge = client.get("/api/traces", params={"q": "x" * 50_000})
    assert huge.status_code == 414
    assert "query string too long" in huge.json()["error"]
    many = client.get("/api/traces", params={"q": " ".join(f"w{i}" for i in range(65))})
    assert many.status_code == 400
    assert "at most 64" in many.json()["error"]
    export = client.get("/api/export", params={"q": "x" * 5_000})
    assert export.status_code == 400
