"""``POST /v1/traces`` driven by the standard OpenTelemetry OTLP/HTTP exporter.

A live API (uvicorn on a free port) receives spans from ``opentelemetry-sdk``'s
``TracerProvider`` through ``opentelemetry-exporter-otlp-proto-http``'s ``OTLPSpanExporter``
(protobuf, gzip when asked), as an instrumented app would send them. The same agent run is
sent in each naming generation (OpenLLMetry's older ``gen_ai.*``, v1.3x ``gen_ai.*`` with
events, GenAI conventions v0.1 with input/output messages, OpenInference, Vercel AI SDK) and
must land as the same run and the same LLM trace.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from traceforge_shared.spans import Span
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import SpanContext
from traceforge_web_api.embedded import bind, embedded_server

SECRET = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9" * 2
QUESTION = f"What is the weather in Paris? (my key is {SECRET})"
ANSWER = "Sunny, 21 degrees."
Attrs = dict[str, Any]


@pytest.fixture
def live_api(store: TraceStore) -> Iterator[str]:
    """The API over ``store`` served by uvicorn on a free loopback port; its base URL."""
    server = embedded_server(store)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _provider(base: str, compression: Compression = Compression.NoCompression) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces", compression=compression)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


# -- the same run in each naming generation ---------------------------------------------------


def _openllmetry() -> tuple[Attrs, Attrs, Attrs]:
    llm = {
        "llm.request.type": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": QUESTION,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": ANSWER,
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.usage.prompt_tokens": 12,
        "gen_ai.usage.completion_tokens": 5,
    }
    return {"traceloop.span.kind": "agent"}, llm, {"traceloop.span.kind": "tool"}


def _semconv_events() -> tuple[Attrs, Attrs, Attrs]:
    llm = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
    }
    return {"gen_ai.operation.name": "invoke_agent"}, llm, {"gen_ai.operation.name": "execute_tool"}


def _genai_v01() -> tuple[Attrs, Attrs, Attrs]:
    llm = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
        ),
        "gen_ai.output.messages": json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": ANSWER}],
                    "finish_reason": "stop",
                }
            ]
        ),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 5,
    }
    return {"gen_ai.operation.name": "invoke_agent"}, llm, {"gen_ai.operation.name": "execute_tool"}


def _openinference() -> tuple[Attrs, Attrs, Attrs]:
    llm = {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": "gpt-4o-mini",
        "llm.invocation_parameters": json.dumps({"temperature": 0.2}),
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": QUESTION,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": ANSWER,
        "llm.token_count.prompt": 12,
        "llm.token_count.completion": 5,
        "llm.token_count.total": 17,
    }
    return {"openinference.span.kind": "AGENT"}, llm, {"openinference.span.kind": "TOOL"}


def _vercel() -> tuple[Attrs, Attrs, Attrs]:
    llm = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.id": "gpt-4o-mini",
        "ai.model.provider": "openai.chat",
        "ai.settings.temperature": 0.2,
        "ai.prompt.messages": json.dumps(
            [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
        ),
        "ai.response.text": ANSWER,
        "ai.response.finishReason": "stop",
        "ai.usage.inputTokens": 12,
        "ai.usage.outputTokens": 5,
    }
    return {"ai.operationId": "ai.generateText"}, llm, {"ai.operationId": "ai.toolCall"}


GENERATIONS: dict[str, Callable[[], tuple[Attrs, Attrs, Attrs]]] = {
    "openllmetry": _openllmetry,
    "semconv-events": _semconv_events,
    "genai-v0.1": _genai_v01,
    "openinference": _openinference,
    "vercel": _vercel,
}


def _send_run(provider: TracerProvider, generation: str) -> str:
    """One agent run (root → LLM call, root → tool call); returns its trace id (hex)."""
    root_attrs, llm_attrs, tool_attrs = GENERATIONS[generation]()
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("weather agent", attributes=root_attrs) as root:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=llm_attrs) as llm:
            if generation == "semconv-events":
                llm.add_event("gen_ai.user.message", {"content": QUESTION})
                llm.add_event(
                    "gen_ai.choice",
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": json.dumps({"role": "assistant", "content": ANSWER}),
                    },
                )
        with tracer.start_as_current_span("get_weather", attributes=tool_attrs):
            pass
    provider.force_flush()
    return format(root.get_span_context().trace_id, "032x")


def _shape(spans: list[Span]) -> list[tuple[str | None, str]]:
    """(parent name, kind) of each non-root span, in tree order."""
    names = {s.span_id: s.name for s in spans}
    return [(names.get(s.parent_span_id or ""), s.kind) for s in spans if s.parent_span_id]


@pytest.mark.parametrize("generation", list(GENERATIONS))
def test_each_naming_generation_lands_as_the_same_run(
    live_api: str, store: TraceStore, generation: str
) -> None:
    provider = _provider(live_api)
    trace_id = _send_run(provider, generation)
    provider.shutdown()

    spans = store.spans.get_run(trace_id)
    assert [s.name for s in spans] == ["weather agent", "chat gpt-4o-mini", "get_weather"]
    assert _shape(spans) == [("weather agent", "llm"), ("weather agent", "tool")]
    assert spans[0].kind in ("agent", "chain")
    llm = spans[1]
    assert llm.source == "otlp" and llm.provider == "openai" and llm.model == "gpt-4o-mini"
    assert llm.usage is not None
    assert (llm.usage.prompt_tokens, llm.usage.completion_tokens) == (12, 5)
    assert llm.attributes["service.name"] == "weather-agent"

    assert llm.trace_ref is not None
    trace = store.get(llm.trace_ref)
    assert (trace.provider, trace.model, trace.endpoint) == (
        "openai",
        "gpt-4o-mini",
        "/v1/chat/completions",
    )
    assert trace.request["temperature"] == 0.2
    [message] = trace.request["messages"]
    assert message["role"] == "user"
    assert message["content"].startswith("What is the weather in Paris?")
    assert SECRET not in message["content"]
    choice = trace.response["choices"][0]
    assert choice["message"]["content"] == ANSWER
    # OpenInference records no finish reason (not guessed); the others say "stop".
    assert choice["finish_reason"] == (None if generation == "openinference" else "stop")
    assert trace.response["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
    }
    assert trace.metadata.status == "success"
    assert trace.metadata.latency_ms == pytest.approx(llm.duration_ms)
    summary = store.spans.get_run_summary(trace_id)
    assert (summary.span_count, summary.llm_calls) == (3, 1)
    assert (summary.input_tokens, summary.output_tokens) == (12, 5)


def test_the_secret_in_a_prompt_never_reaches_the_disk(
    live_api: str, store: TraceStore, tmp_path: Path
) -> None:
    provider = _provider(live_api, Compression.Gzip)
    for generation in GENERATIONS:
        _send_run(provider, generation)
    provider.shutdown()
    assert store.spans.count_runs() == len(GENERATIONS)
    files = [p for p in store.home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    traces = store.list(limit=None)
    assert traces and all(t.provider == "openai" for t in traces)


def test_an_error_span_becomes_an_error_trace(live_api: str, store: TraceStore) -> None:
    provider = _provider(live_api)
    tracer = provider.get_tracer("test")
    _, llm_attrs, _ = _genai_v01()
    with tracer.start_as_current_span("chat gpt-4o-mini", attributes=llm_attrs) as span:
        span.set_status(Status(StatusCode.ERROR, "rate limited"))
    provider.shutdown()
    [summary] = store.list(limit=None)
    trace = store.get(summary.id)
    assert trace.metadata.status == "error"
    assert trace.metadata.error is not None and trace.metadata.error.message == "rate limited"


# -- OTLP/JSON, gzip, partial success, errors --------------------------------------------------


def _json_request(trace_id: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]
                },
                "scopeSpans": [{"scope": {"name": "manual"}, "spans": spans}],
            }
        ]
    }


def _json_span(trace_id: str, span_id: str, name: str, **extra: Any) -> dict[str, Any]:
    now = time.time_ns()
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 250_000_000),
        **extra,
    }


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def test_otlp_json_gzip_with_a_bad_span_is_a_partial_success(
    live_api: str, store: TraceStore
) -> None:
    trace_id = "5b8efff798038103d269b633813fc60c"
    good = _json_span(
        trace_id,
        "eee19b7ec3c1b174",
        "chat gpt-4o-mini",
        attributes=[
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.provider.name", "openai"),
            _kv("gen_ai.request.model", "gpt-4o-mini"),
            _kv("gen_ai.usage.input_tokens", 7),
            _kv("gen_ai.usage.output_tokens", 3),
        ],
    )
    bad = _json_span(trace_id[:30], "eee19b7ec3c1b175", "broken")
    too_late = _json_span(trace_id, "eee19b7ec3c1b176", "year 2300")
    too_late["endTimeUnixNano"] = str(2**64 - 1)
    body = gzip.compress(json.dumps(_json_request(trace_id, [good, bad, too_late])).encode())
    response = httpx.post(
        f"{live_api}/v1/traces",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "trace_id must be 32" in partial["errorMessage"]
    assert "int64" in partial["errorMessage"]
    [span] = store.spans.get_run(trace_id)
    assert span.usage is not None and span.usage.prompt_tokens == 7
    assert span.attributes["service.name"] == "json-app"


def test_a_bad_protobuf_span_is_answered_in_protobuf(live_api: str) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(8)  # 8 bytes, not 16
    span.span_id = bytes.fromhex("00f067aa0ba902b7")
    span.name = "short id"
    response = httpx.post(
        f"{live_api}/v1/traces",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "trace_id" in answer.partial_success.error_message


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "application/x-protobuf"}, b"\xff\xff\xff", 400),
        ({"Content-Type": "application/json"}, b"{not json", 400),
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"not gzip", 400),
        ({"Content-Type": "text/plain"}, b"hello", 415),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, b"{}", 400),
    ],
)
def test_undecodable_bodies_and_other_types_are_refused(
    live_api: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    response = httpx.post(f"{live_api}/v1/traces", content=body, headers=headers)
    assert response.status_code == status


def test_a_gzip_bomb_is_413(live_api: str) -> None:
    body = gzip.compress(b"{" + b" " * (11 * 1024 * 1024) + b"}")
    response = httpx.post(
        f"{live_api}/v1/traces",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413


def test_protobuf_is_refused_on_other_routes_and_from_foreign_pages(live_api: str) -> None:
    other = httpx.post(
        f"{live_api}/api/tests",
        content=b"\x0a\x00",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert other.status_code == 415
    foreign = httpx.post(
        f"{live_api}/v1/traces",
        content=b"",
        headers={"Content-Type": "application/x-protobuf", "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403


# -- the same call through the proxy -----------------------------------------------------------


def test_a_client_span_of_a_proxied_call_links_to_its_trace(
    live_api: str, store: TraceStore
) -> None:
    provider = _provider(live_api)
    tracer = provider.get_tracer("test")
    _, llm_attrs, _ = _semconv_events()
    with (
        tracer.start_as_current_span("weather agent") as root,
        tracer.start_as_current_span("chat gpt-4o-mini", attributes=llm_attrs) as llm,
    ):
        context = llm.get_span_context()
        # What the proxy records for a call carrying this span's traceparent.
        proxied = make_trace(prompt_tokens=12, completion_tokens=5)
        proxied.span = SpanContext(
            trace_id=format(context.trace_id, "032x"),
            span_id="b7ad6b7169203331",
            parent_span_id=format(context.span_id, "016x"),
        )
        store.save(proxied)
    provider.shutdown()

    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = store.spans.get_run(trace_id)
    assert [(s.name, s.source) for s in spans] == [
        ("weather agent", "otlp"),
        ("chat gpt-4o-mini", "otlp"),
        ("chat gpt-4o-mini", "proxy"),
    ]
    assert spans[1].trace_ref == proxied.id == spans[2].trace_ref
    assert [t.id for t in store.list(limit=None)] == [proxied.id]  # no second trace
    summary = store.spans.get_run_summary(trace_id)
    assert (summary.input_tokens, summary.output_tokens) == (12, 5)
    # One call, seen twice (the proxy's span and the app's client span): counted once, as
    # the runs are kept up to date span by span and as they are rebuilt from the files.
    assert summary.llm_calls == 1
    assert store.spans.list_runs()[0].llm_calls == 1
    store.spans.rebuild()
    assert store.spans.get_run_summary(trace_id).llm_calls == 1
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (store.home / name).unlink(missing_ok=True)
    reopened = TraceStore(store.home, fsync=False)  # a new index, filled from the files
    assert reopened.spans.get_run_summary(trace_id).llm_calls == 1


def test_a_linked_call_counts_once_in_its_session(live_api: str, store: TraceStore) -> None:
    provider = _provider(live_api)
    tracer = provider.get_tracer("test")
    _, llm_attrs, _ = _semconv_events()
    llm_attrs = {**llm_attrs, "gen_ai.conversation.id": "user-42"}
    with tracer.start_as_current_span("chat gpt-4o-mini", attributes=llm_attrs) as llm:
        context = llm.get_span_context()
        proxied = make_trace(prompt_tokens=12, completion_tokens=5)
        proxied.session_id = "user-42"
        proxied.span = SpanContext(
            trace_id=format(context.trace_id, "032x"),
            span_id="b7ad6b7169203331",
            parent_span_id=format(context.span_id, "016x"),
        )
        store.save(proxied)
    # A second, unproxied LLM span of the same run: a call of its own.
    with tracer.start_as_current_span("chat gpt-4o", attributes=llm_attrs):
        pass
    provider.shutdown()
    (session,) = store.spans.list_sessions()
    assert session.session_id == "user-42"
    assert session.calls == 2


def test_a_retried_export_keeps_one_trace(live_api: str, store: TraceStore) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    span = _json_span(
        trace_id,
        "b7ad6b7169203331",
        "chat gpt-4o-mini",
        attributes=[
            _kv("gen_ai.operation.name", "chat"),
            _kv("gen_ai.provider.name", "gcp.gemini"),
            _kv("gen_ai.request.model", "gemini-2.5-flash"),
        ],
    )
    body = json.dumps(_json_request(trace_id, [span]))
    for _ in range(2):
        response = httpx.post(
            f"{live_api}/v1/traces", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200 and response.json() == {}
    [summary] = store.list(limit=None)
    assert summary.provider == "gemini"
    [stored] = store.spans.get_run(trace_id)
    assert stored.trace_ref == summary.id
