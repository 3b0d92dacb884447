"""OTLP export from the proxy: the official OpenAI SDK streams a chat completion through the
proxy (mock upstream: a real recorded OpenAI stream) with a W3C ``traceparent``; the saved
trace leaves as an OpenTelemetry GenAI span through the OTLP/HTTP exporter to a local sink,
whose protobuf bodies are decoded with ``opentelemetry-proto``; and as OTLP/JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as ProtoStatus

from traceforge_proxy.otlp_sink import OtlpSink
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces
from traceforge_shared.config import Config
from traceforge_shared.otel.export_json import parse_otlp_json_line

from .conftest import MakeProxy, Sdk

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{RUN}-{PARENT}-01"
EMAIL = "jane.doe@example.com"
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"Say hello to {EMAIL}"}]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    assert kind is not None
    return getattr(value, kind)


def _attributes(span: ProtoSpan) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in span.attributes}


async def _call(make_proxy: Any, sdk: Any, config: Config) -> tuple[ProxyService, Any]:
    service: ProxyService = await make_proxy(config=config)
    client = sdk(service)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=ASK,
        stream=True,
        extra_headers={"traceparent": TRACEPARENT},
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text
    (trace,) = await saved_traces(service)
    await service.stop()  # flushes the export queue and the metrics, while the sink listens
    return service, trace


@pytest.mark.parametrize(
    ("semconv", "provider_key", "duration", "first_chunk", "schema_url"),
    [
        (
            "v0.1",
            "gen_ai.provider.name",
            "gen_ai.client.inference.duration",
            "gen_ai.client.inference.time_to_first_chunk",
            "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev",
        ),
        (
            "legacy",
            "gen_ai.system",
            "gen_ai.client.operation.duration",
            "gen_ai.server.time_to_first_token",
            "https://opentelemetry.io/schemas/1.36.0",
        ),
    ],
)
async def test_saved_trace_exported_over_otlp_http(  # type: ignore[no-untyped-def]
    make_proxy, sdk, semconv, provider_key, duration, first_chunk, schema_url
) -> None:
    sink = OtlpSink()
    async with sink as url:
        config = Config()
        config.export.otlp.endpoint = url
        config.export.otlp.semconv = semconv
        _, trace = await _call(make_proxy, sdk, config)
    assert {content_type for _, content_type, _ in sink.received} == {"application/x-protobuf"}
    (request,) = sink.trace_requests()
    (resource_spans,) = request.resource_spans
    assert resource_spans.schema_url == schema_url
    resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
    assert resource["service.name"] == "traceforge"
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.schema_url) == ("traceforge", schema_url)
    (span,) = scope_spans.spans
    # The run's ids: the app's traceparent, and the proxy's own span id for the call.
    assert trace.span is not None
    assert span.trace_id.hex() == RUN
    assert span.parent_span_id.hex() == PARENT
    assert span.span_id.hex() == trace.span.span_id
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == ProtoSpan.SPAN_KIND_CLIENT
    assert span.status.code == ProtoStatus.STATUS_CODE_OK
    assert span.end_time_unix_nano - span.start_time_unix_nano == int(
        trace.metadata.latency_ms * 1e6
    )
    attributes = _attributes(span)
    usage = trace.metadata.usage
    assert usage is not None and usage.prompt_tokens > 0
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes[provider_key] == "openai"
    (other,) = {"gen_ai.provider.name", "gen_ai.system"} - {provider_key}
    assert other not in attributes  # one generation's names only
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.model"] == trace.response_model
    assert attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["traceforge.trace_id"] == trace.id
    assert "error.type" not in attributes
    # Content capture is off by default.
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes
    # The duration and time-to-first-chunk histograms, in seconds.
    histograms = {
        metric.name: metric
        for metrics_request in sink.metric_requests()
        for rm in metrics_request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert set(histograms) == {duration, first_chunk}
    (point,) = histograms[duration].histogram.data_points
    assert histograms[duration].unit == "s"
    assert point.count == 1
    assert point.sum == pytest.approx(trace.metadata.latency_ms / 1000)
    point_attributes = {kv.key: _value(kv.value) for kv in point.attributes}
    assert point_attributes[provider_key] == "openai"
    assert point_attributes["gen_ai.operation.name"] == "chat"
    assert trace.metadata.first_chunk_latency_ms is not None
    (ttfc,) = histograms[first_chunk].histogram.data_points
    assert ttfc.sum == pytest.approx(trace.metadata.first_chunk_latency_ms / 1000)


async def test_content_capture_exports_redacted_messages(make_proxy: MakeProxy, sdk: Sdk) -> None:
    sink = OtlpSink()
    async with sink as url:
        config = Config()
        config.export.otlp.endpoint = url
        config.export.otlp.capture_content = True
        _, trace = await _call(make_proxy, sdk, config)
    (request,) = sink.trace_requests()
    (span,) = request.resource_spans[0].scope_spans[0].spans
    attributes = _attributes(span)
    inputs = json.loads(attributes["gen_ai.input.messages"])
    (message,) = inputs
    assert message["role"] == "user"
    (part,) = message["parts"]
    assert part["type"] == "text"
    assert EMAIL not in part["content"]  # the stored, redacted text only
    assert part["content"] == trace.request["messages"][0]["content"]
    (output,) = json.loads(attributes["gen_ai.output.messages"])
    assert output["role"] == "assistant"
    assert output["finish_reason"] == "stop"
    assert output["parts"][0]["content"] == trace.response["choices"][0]["message"]["content"]
    assert EMAIL not in json.dumps([e for e in sink.received if e[0] == "/v1/traces"], default=str)


async def test_saved_trace_exported_as_otlp_json_lines(make_proxy, sdk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = Config()
    config.export.otlp.file = str(tmp_path / "otlp" / "traces.jsonl")
    _, trace = await _call(make_proxy, sdk, config)
    lines = (tmp_path / "otlp" / "traces.jsonl").read_text().splitlines()
    (line,) = lines
    raw = json.loads(line)
    raw_span = raw["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert raw_span["traceId"] == RUN  # hex, as OTLP/JSON requires (not base64)
    assert raw_span["kind"] == 3  # enums as integers: SPAN_KIND_CLIENT
    request = parse_otlp_json_line(line)
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert trace.span is not None
    assert (span.trace_id.hex(), span.span_id.hex()) == (RUN, trace.span.span_id)
    assert _attributes(span)["gen_ai.provider.name"] == "openai"
