"""The span model: checks, times, kinds, and the span derived from a proxied call's trace."""

from __future__ import annotations

import pytest

from traceforge_shared.spans import (
    KIND_FOR_OPERATION,
    OPERATION_FOR_KIND,
    SPAN_KINDS,
    SpanProblem,
    check_span,
    is_span_id,
    is_trace_id,
    iso_from_ns,
    kind_of_endpoint,
    ns_from_iso,
    span_from_trace,
)
from traceforge_shared.testing import make_span, make_trace
from traceforge_shared.trace import SpanContext, TraceError

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_ids() -> None:
    assert is_trace_id(RUN) and not is_trace_id(RUN.upper()) and not is_trace_id("0" * 32)
    assert is_span_id("00f067aa0ba902b7") and not is_span_id("0" * 16)
    assert not is_span_id("00f067aa0ba902b") and not is_trace_id(RUN + "0")


def test_times_round_trip() -> None:
    ns = 1_767_225_600_123_456_000
    assert iso_from_ns(ns) == "2026-01-01T00:00:00.123456Z"
    assert ns_from_iso("2026-01-01T00:00:00.123456Z") == ns
    assert ns_from_iso("2026-01-01T01:00:00.123456+01:00") == ns
    assert ns_from_iso("2026-01-01T00:00:00.123456") == ns  # naive: UTC
    with pytest.raises(ValueError, match="Invalid isoformat"):
        ns_from_iso("yesterday")


def test_start_time_is_filled_from_start_ns() -> None:
    span = make_span(RUN, "00f067aa0ba902b7", start_ms=1.5, duration_ms=2.25)
    assert span.start_time == "2026-01-01T00:00:00.001500Z"
    assert span.duration_ms == pytest.approx(2.25)


def test_kinds_map_to_otel_operations_both_ways() -> None:
    assert set(KIND_FOR_OPERATION.values()) <= set(SPAN_KINDS)
    for kind, operation in OPERATION_FOR_KIND.items():
        assert KIND_FOR_OPERATION[operation] == kind
    assert kind_of_endpoint("/v1/embeddings") == "embedding"
    assert kind_of_endpoint("/gemini/v1beta/models/m:embedContent") == "embedding"
    assert kind_of_endpoint("/anthropic/v1/messages") == "llm"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("trace_id", "xyz", "trace_id must be 32"),
        ("span_id", "0" * 16, "span_id must be 16"),
        ("parent_span_id", "ABCDEF0123456789", "parent_span_id must be 16"),
        ("kind", "LLM", "unknown kind"),
        ("status", "failed", "unknown status"),
        ("source", "otel", "unknown source"),
    ],
)
def test_check_span_names_the_bad_field(field: str, value: str, message: str) -> None:
    span = make_span(RUN, "00f067aa0ba902b7")
    setattr(span, field, value)
    with pytest.raises(SpanProblem, match=message):
        check_span(span)


def test_span_from_trace() -> None:
    trace = make_trace(epoch_s=1_767_225_600.0, latency_ms=250.0, prompt_tokens=12)
    assert span_from_trace(trace) is None  # no context: recorded before runs existed
    trace.span = SpanContext(trace_id=RUN, span_id="1111111111111111", parent_span_id="2" * 16)
    trace.session_id, trace.tags, trace.meta = "s", ["a"], {"user": "u1"}
    trace.metadata.cost_usd = 0.5
    span = span_from_trace(trace)
    assert span is not None
    check_span(span)
    assert (span.trace_id, span.span_id, span.parent_span_id) == (RUN, "1" * 16, "2" * 16)
    assert (span.name, span.kind, span.status, span.source) == (
        "chat gpt-4o-mini",
        "llm",
        "ok",
        "proxy",
    )
    assert span.duration_ms == pytest.approx(250.0)
    assert (span.session_id, span.tags, span.cost_usd, span.trace_ref) == (
        "s",
        ["a"],
        0.5,
        trace.id,
    )
    assert span.usage is not None and span.usage.prompt_tokens == 12
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.attributes["traceforge.meta.user"] == "u1"


def test_span_from_a_failed_embeddings_call() -> None:
    trace = make_trace(status="upstream_error", status_code=502)
    trace.endpoint = "/v1/embeddings"
    trace.metadata.error = TraceError(type="upstream_unreachable", message="connection refused")
    trace.span = SpanContext(trace_id=RUN, span_id="1111111111111111")
    span = span_from_trace(trace)
    assert span is not None
    assert (span.kind, span.status, span.status_message) == (
        "embedding",
        "error",
        "connection refused",
    )
    assert span.name.startswith("embeddings ")
