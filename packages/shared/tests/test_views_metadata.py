"""Metadata rows of a trace (traceforge_shared.views.metadata)."""

from __future__ import annotations

import msgspec

from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, Trace, TraceError
from traceforge_shared.views.metadata import (
    MetadataRow,
    chunks_text,
    identity_rows,
    measure_rows,
    metadata_rows,
    note_rows,
)
from traceforge_shared.views.times import local_time


def with_meta(trace: Trace, **changes: object) -> Trace:
    return msgspec.structs.replace(
        trace, metadata=msgspec.structs.replace(trace.metadata, **changes)
    )


def as_dict(rows: list[MetadataRow]) -> dict[str, str]:
    return {row.label: row.value for row in rows}


def test_a_plain_call() -> None:
    trace = msgspec.structs.replace(
        make_trace(model="gpt-4o", latency_ms=1830.4), response_model="gpt-4o-2024-08-06"
    )
    trace = with_meta(trace, cost_usd=0.00042, upstream_url="https://api.openai.com/v1/chat")
    assert identity_rows(trace) == [
        MetadataRow("ID", trace.id),
        MetadataRow("Time", local_time(trace.timestamp)),
        MetadataRow("Provider", "openai"),
        MetadataRow("Model", "gpt-4o (answered by gpt-4o-2024-08-06)"),
        MetadataRow("Route", "openai (OpenAI format, forwarded as is)"),
        MetadataRow("Endpoint", "POST /v1/chat/completions"),
        MetadataRow("Upstream", "https://api.openai.com/v1/chat"),
    ]
    assert measure_rows(trace) == [
        MetadataRow("Status", "success", "ok"),
        MetadataRow("Latency", "1,830 ms"),
        MetadataRow("Type", "not streamed"),
        MetadataRow("Tokens", "10 in / 5 out (15 total)"),
        MetadataRow("Cost", "$0.000420"),
    ]
    assert note_rows(trace) == []
    assert metadata_rows(trace) == identity_rows(trace) + measure_rows(trace)


def test_a_failed_stream() -> None:
    trace = make_trace(streaming=True, text="one two three four", status="error", status_code=429)
    trace.chunks[3] = StreamChunk(index=3, delta_ms=500.0, offset_ms=530.0)
    trace = with_meta(
        trace,
        first_chunk_latency_ms=8.25,
        stream_duration_ms=520.0,
        total_chunks=4,
        chunks_received=4,
        chunks_buffered=4,
        usage=None,
        error=TraceError(type="rate_limit_error", message="slow down"),
        warnings=["usage was requested", "chunk cap reached"],
        redacted_fields=["request.messages[0].content", "request.user"],
    )
    rows = metadata_rows(trace)
    values = as_dict(rows)
    assert "Upstream" not in values
    assert [row.label for row in rows][6:] == [
        "Status",
        "Latency",
        "First chunk",
        "First content",
        "Stream duration",
        "Chunks",
        "Chunk gaps",
        "Tokens",
        "Cost",
        "Error",
        "Redacted",
        "Warning",
        "Warning",
    ]
    assert rows[6] == MetadataRow("Status", "error 429", "error")
    assert values["First chunk"] == "8.2 ms"
    assert values["First content"] == "-"  # built by hand: no content time recorded
    assert values["Stream duration"] == "520 ms"
    assert values["Chunks"] == "4"
    assert values["Chunk gaps"] == "mean 173 ms, max 500 ms, 1 slow"
    assert (values["Tokens"], values["Cost"]) == ("-", "-")
    assert note_rows(trace) == [
        MetadataRow("Error", "rate_limit_error: slow down", "error"),
        MetadataRow("Redacted", "request.messages[0].content, request.user", "warn"),
        MetadataRow("Warning", "usage was requested", "warn"),
        MetadataRow("Warning", "chunk cap reached", "warn"),
    ]


def test_chunk_counts() -> None:
    trace = make_trace(streaming=True)
    assert (
        chunks_text(with_meta(trace, total_chunks=5, chunks_received=5, chunks_buffered=5)) == "5"
    )
    assert (
        chunks_text(with_meta(trace, total_chunks=4, chunks_received=5, chunks_buffered=2))
        == "4 to client, 5 received, 2 kept"
    )
    one = with_meta(make_trace(streaming=True, text="single"), streaming=True)
    assert as_dict(measure_rows(one))["Chunk gaps"] == "-"
