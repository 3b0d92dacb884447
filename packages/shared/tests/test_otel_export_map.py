"""The GenAI names of an exported call per ``export.otlp.semconv``: the usage parts that differ
between generations (cache write, reasoning), the provider value from the registry, and a
failed call's error type; traces without a span context get the same ids every time."""

from __future__ import annotations

import pytest

from traceforge_shared.otel.export_map import span_of_trace
from traceforge_shared.otel.export_names import LEGACY, V0_1, names_for
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import TraceError, Usage


def _anthropic_call() -> object:
    trace = make_trace(model="claude-sonnet-4-5", provider="anthropic", epoch_s=1_795_420_800)
    trace.metadata.usage = Usage(
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        cache_read_tokens=800,
        cache_write_tokens=200,
        reasoning_tokens=120,
    )
    return trace


def test_v0_1_names_cache_write_and_reasoning() -> None:
    attrs = span_of_trace(_anthropic_call(), V0_1, capture_content=False).attributes  # type: ignore[arg-type]
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 800
    assert attrs["gen_ai.usage.cache_write.input_tokens"] == 200
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 120
    assert "gen_ai.system" not in attrs
    assert "gen_ai.usage.cache_creation.input_tokens" not in attrs


def test_legacy_names() -> None:
    attrs = span_of_trace(_anthropic_call(), LEGACY, capture_content=False).attributes  # type: ignore[arg-type]
    assert attrs["gen_ai.system"] == "anthropic"
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 200
    assert "gen_ai.usage.cache_write.input_tokens" not in attrs
    assert not any("reasoning" in key for key in attrs)  # legacy names none


def test_registry_otel_name_and_error_type() -> None:
    trace = make_trace(model="gemini-2.5-flash", provider="gemini", status="error", status_code=429)
    trace.metadata.error = TraceError(type="rate_limit_exceeded", message="slow down")
    span = span_of_trace(trace, V0_1, capture_content=False)
    assert span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert span.attributes["error.type"] == "rate_limit_exceeded"
    assert span.metric_attributes["error.type"] == "rate_limit_exceeded"
    assert (span.error, span.status_message) == (True, "slow down")
    # No span context (recorded before runs existed): ids derived from the trace id, stable.
    again = span_of_trace(trace, V0_1, capture_content=False)
    assert (span.trace_id, span.span_id) == (again.trace_id, again.span_id)
    assert len(span.trace_id) == 32 and span.parent_span_id is None


def test_unknown_semconv() -> None:
    with pytest.raises(ValueError, match=r"one of v0\.1, legacy"):
        names_for("v2")
