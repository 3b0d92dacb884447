"""The ``filter`` parameter of the trace list and export: the shared filter grammar
(traceforge_shared.views.filters, docs/filters.md)."""

from __future__ import annotations

import msgspec
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

from .factories import BASE_EPOCH


def _ids(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/traces", params=params)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["traces"]]


def test_filter_uses_the_shared_grammar(client: TestClient, store: TraceStore) -> None:
    flash = make_trace(
        model="gemini-2.0-flash", provider="gemini", latency_ms=900.0, epoch_s=BASE_EPOCH
    )
    down = make_trace(
        model="gpt-4o", status="upstream_error", status_code=502, epoch_s=BASE_EPOCH + 1
    )
    fast = make_trace(model="gpt-4o", latency_ms=50.0, epoch_s=BASE_EPOCH + 2)
    tested = msgspec.structs.replace(
        make_trace(model="gpt-4o", epoch_s=BASE_EPOCH + 3), meta={"source": "test"}
    )
    store.save_many([flash, down, fast, tested])
    assert _ids(client, filter="model:~gemini") == [flash.id]
    assert _ids(client, filter="status:error") == [down.id]
    assert _ids(client, filter="latency:>500") == [flash.id]
    assert _ids(client, filter="source:test") == [tested.id]
    # Separate parameters are ANDed with it, and override the same key.
    assert _ids(client, filter="model:gpt-4o", status="success") == [tested.id, fast.id]
    export = client.get("/api/export", params={"filter": "model:~gemini", "format": "jsonl"})
    assert [msgspec.json.decode(line)["id"] for line in export.text.splitlines()] == [flash.id]


def test_a_bad_filter_is_a_400_naming_the_closest_key(client: TestClient) -> None:
    response = client.get("/api/traces", params={"filter": "modle:gpt-4o"})
    assert response.status_code == 400
    assert "filter: unknown filter key 'modle' (did you mean 'model'?)" in response.json()["error"]
    bad = client.get("/api/traces", params={"filter": "latency:fast"})
    assert bad.status_code == 400
    assert "latency: 'fast' is not a comparison" in bad.json()["error"]


def test_analytics_period_route(client: TestClient, store: TraceStore) -> None:
    store.save(make_trace(model="gpt-4o", latency_ms=300.0))
    test_call = make_trace(model="gpt-4o", latency_ms=900.0)
    store.save(msgspec.structs.replace(test_call, meta={"source": "test"}))
    body = client.get("/api/analytics/period", params={"range": "1h"}).json()
    assert body["range"] == "1h"
    assert body["bucket_seconds"] == 60
    assert body["totals"]["calls"] == 2
    (model,) = body["models"]
    assert (model["model"], model["calls"], model["latency_p95_ms"]) == ("gpt-4o", 2, 900.0)
    narrowed = client.get("/api/analytics/period", params={"range": "1h", "filter": "source:ok"})
    assert narrowed.json()["totals"]["calls"] == 0
    bad = client.get("/api/analytics/period", params={"range": "2w"})
    assert bad.status_code == 400
    assert "range must be one of 1h, 24h, 7d, 30d, all" in bad.json()["error"]
