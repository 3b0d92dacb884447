"""The OTLP ingest mapping: tool calls, cache tokens, kinds and providers in each naming."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from traceforge_shared.otel.ingest_map import (
    DecodedSpan,
    provider_name,
    span_kind,
    to_span,
    to_trace,
)
from traceforge_shared.otel.ingest_messages import input_messages, output_message

CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}


def _decoded(attrs: dict[str, Any], events: list[dict[str, Any]] | None = None) -> DecodedSpan:
    return DecodedSpan(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        name="chat",
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_000_000_800_000_000,
        attributes=attrs,
        events=events or [],
        status_code=1,
    )


def test_v01_parts_tool_call_and_tool_response() -> None:
    attrs = {
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": "call_1",
                            "name": "get_weather",
                            "arguments": {"city": "Paris"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny"}],
                },
            ]
        ),
    }
    assert input_messages(attrs) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


@pytest.mark.parametrize(
    "attrs",
    [
        {  # OpenLLMetry, indexed
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.tool_calls.0.id": "call_1",
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"city":"Paris"}',
        },
        {  # OpenInference
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": (
                '{"city":"Paris"}'
            ),
            "gen_ai.response.finish_reasons": ["tool_calls"],
        },
        {  # Vercel AI SDK
            "ai.response.toolCalls": json.dumps(
                [{"toolCallId": "call_1", "toolName": "get_weather", "input": {"city": "Paris"}}]
            ),
            "ai.response.finishReason": "tool-calls",
        },
        {  # GenAI conventions v1.37+/v0.1
            "gen_ai.output.messages": json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool_call",
                                "id": "call_1",
                                "name": "get_weather",
                                "arguments": {"city": "Paris"},
                            }
                        ],
                        "finish_reason": "tool_call",
                    }
                ]
            )
        },
    ],
    ids=["openllmetry", "openinference", "vercel", "v0.1"],
)
def test_output_tool_calls_in_every_naming(attrs: dict[str, Any]) -> None:
    message, reason = output_message(attrs)
    assert message is not None
    assert message["tool_calls"] == [CALL]
    assert reason == "tool_calls"


def test_choice_event_of_v13x() -> None:
    events = [
        {"name": "gen_ai.system.message", "attributes": {"content": "Be brief."}},
        {"name": "gen_ai.user.message", "attributes": {"content": "Hi"}},
        {
            "name": "gen_ai.choice",
            "attributes": {"finish_reason": "end_turn", "message": '{"content": "Hello"}'},
        },
    ]
    assert input_messages({}, events) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert output_message({}, events) == ({"role": "assistant", "content": "Hello"}, "stop")


@pytest.mark.parametrize(
    ("write_key", "read_key"),
    [
        ("gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_read.input_tokens"),
        ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_read.input_tokens"),
        ("gen_ai.usage.cache_creation_input_tokens", "gen_ai.usage.cache_read_input_tokens"),
    ],
)
def test_cache_tokens_of_each_generation(write_key: str, read_key: str) -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 20,
        write_key: 300,
        read_key: 600,
    }
    span = to_span(_decoded(attrs))
    assert span.usage is not None
    assert (span.usage.cache_write_tokens, span.usage.cache_read_tokens) == (300, 600)
    trace = to_trace(_decoded(attrs), span)
    assert trace.metadata.usage == span.usage
    assert trace.metadata.cost_usd is not None and trace.metadata.cost_usd > 0


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"gen_ai.provider.name": "gcp.gemini"}, "gemini"),
        ({"gen_ai.system": "vertex_ai"}, "gemini"),
        ({"gen_ai.provider.name": "x_ai"}, "xai"),
        ({"llm.provider": "anthropic"}, "anthropic"),
        ({"ai.model.provider": "openai.responses"}, "openai"),
        ({"gen_ai.provider.name": "aws.bedrock"}, "aws.bedrock"),
        ({}, None),
    ],
)
def test_provider_names_map_to_the_registry(attrs: dict[str, Any], expected: str | None) -> None:
    assert provider_name(attrs) == expected


@pytest.mark.parametrize(
    ("attrs", "kind"),
    [
        ({"gen_ai.operation.name": "embeddings"}, "embedding"),
        ({"gen_ai.operation.name": "something_new"}, "custom"),
        ({"openinference.span.kind": "RETRIEVER"}, "retrieval"),
        ({"ai.operationId": "ai.embed.doEmbed"}, "embedding"),
        ({"ai.operationId": "ai.streamText.doStream"}, "llm"),
        ({"mcp.method.name": "tools/call"}, "mcp"),
        ({"http.method": "GET"}, "custom"),
    ],
)
def test_span_kinds(attrs: dict[str, Any], kind: str) -> None:
    assert span_kind(attrs) == kind


def test_error_status_message_from_the_exception_event() -> None:
    decoded = _decoded(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
        [{"name": "exception", "attributes": {"exception.message": "429 Too Many Requests"}}],
    )
    decoded.status_code = 2
    span = to_span(decoded)
    assert (span.status, span.status_message) == ("error", "429 Too Many Requests")
    trace = to_trace(decoded, span)
    assert trace.metadata.status == "error"
    assert trace.response is None


def test_traceforge_sdk_spans_keep_their_kind_tags_and_source() -> None:
    """The TraceForge SDK marks every span with ``traceforge.span.kind`` (chain and mcp
    have no ``gen_ai.operation.name``) and the session's ``traceforge.tags``; its tracer's
    scope is ``traceforge``."""
    from traceforge_shared.otel.ingest_map import to_span

    decoded = msgspec.structs.replace(
        _decoded(
            {
                "openinference.span.kind": "CHAIN",
                "traceforge.span.kind": "mcp",
                "traceforge.tags": ["beta", "eu"],
            }
        ),
        scope="traceforge",
    )
    span = to_span(decoded)
    assert (span.kind, span.tags, span.source) == ("mcp", ["beta", "eu"], "sdk")
    other = to_span(_decoded({"openinference.span.kind": "CHAIN"}))
    assert (other.kind, other.tags, other.source) == ("chain", [], "otlp")
