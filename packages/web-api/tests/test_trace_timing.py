"""``GET /api/traces/{id}`` carries a stream's timing: time to first chunk and to first
content (``metadata.first_content_latency_ms``: the first chunk with answer text or a tool
call, which for reasoning models and Responses streams comes well after the first chunk)."""

from __future__ import annotations

import msgspec
from starlette.testclient import TestClient

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace


def test_trace_json_has_first_content_latency(client: TestClient, store: TraceStore) -> None:
    trace = make_trace(streaming=True, text="one two three")
    meta = msgspec.structs.replace(
        trace.metadata, first_chunk_latency_ms=40.0, first_content_latency_ms=95.5
    )
    trace = msgspec.structs.replace(trace, metadata=meta)
    store.save(trace)
    body = client.get(f"/api/traces/{trace.id}").json()
    assert body["metadata"]["first_chunk_latency_ms"] == 40.0
    assert body["metadata"]["first_content_latency_ms"] == 95.5
