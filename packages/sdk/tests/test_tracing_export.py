"""Where spans go without an application provider: the OTLP/HTTP exporter to the local
TraceForge, checked with a local OTLP receiver that decodes each export request with
opentelemetry-proto (``ExportTraceServiceRequest``, https://opentelemetry.io/docs/specs/otlp/)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

import traceforge
from traceforge import tracing_setup
from traceforge.tracing_setup import traces_endpoint


@dataclass
class Received:
    """One export request: its path, headers and decoded body."""

    path: str
    headers: dict[str, str]
    body: ExportTraceServiceRequest


@dataclass
class Receiver:
    """A local OTLP/HTTP receiver on a free port."""

    url: str
    requests: list[Received] = field(default_factory=list)

    def spans(self) -> dict[str, tuple[ProtoSpan, dict[str, Any]]]:
        """Every span received by name, with its resource's attributes."""
        found: dict[str, tuple[ProtoSpan, dict[str, Any]]] = {}
        for request in self.requests:
            for resource_spans in request.body.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found[span.name] = (span, resource)
        return found


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, request)
            )
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()


def test_spans_are_exported_to_the_configured_endpoint(
    otel_reset: None, receiver: Receiver
) -> None:
    provider = traceforge.configure(endpoint=receiver.url, service_name="weather-agent")
    assert trace.get_tracer_provider() is provider  # made global: none was set
    with (
        traceforge.session("user-42"),
        traceforge.span("plan", kind="agent") as agent,
        traceforge.span("get_weather", kind="tool", city="Paris"),
    ):
        pass
    assert receiver.requests == []  # batched, not sent span by span
    assert traceforge.flush()
    assert {r.path for r in receiver.requests} == {"/v1/traces"}
    assert {r.headers["content-type"] for r in receiver.requests} == {"application/x-protobuf"}
    assert all("authorization" not in r.headers for r in receiver.requests)
    found = receiver.spans()
    root, resource = found["invoke_agent plan"]
    tool, _ = found["execute_tool get_weather"]
    assert resource["service.name"] == "weather-agent"
    ids = agent.get_span_context()
    assert root.trace_id == tool.trace_id == ids.trace_id.to_bytes(16, "big")
    assert root.span_id == ids.span_id.to_bytes(8, "big") and root.parent_span_id == b""
    assert tool.parent_span_id == root.span_id
    attributes = _attributes(tool.attributes)
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == "get_weather"
    assert attributes["session.id"] == "user-42" and attributes["city"] == "Paris"


def test_the_otel_endpoint_variable_and_the_api_token(
    otel_reset: None, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url + "/")
    monkeypatch.setenv("TRACEFORGE_API_TOKEN", "tf-secret")
    with traceforge.span("first"):  # no configure(): the first span configures
        pass
    assert traceforge.flush()
    (request,) = receiver.requests
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == "Bearer tf-secret"
    assert set(receiver.spans()) == {"first"}


def test_an_error_span_is_exported_with_its_status_and_exception(
    otel_reset: None, receiver: Receiver
) -> None:
    traceforge.configure(endpoint=receiver.url + "/v1/traces")

    @traceforge.trace(kind="tool")
    def get_weather(city: str) -> str:
        raise LookupError(f"no weather for {city}")

    with pytest.raises(LookupError):
        get_weather("Atlantis")
    assert traceforge.flush()
    ((span, _),) = receiver.spans().values()
    assert span.status.code == span.status.STATUS_CODE_ERROR
    assert "no weather for Atlantis" in span.status.message
    (event,) = span.events
    assert event.name == "exception"
    assert _attributes(event.attributes)["exception.type"] == "LookupError"


def test_spans_are_flushed_when_the_process_exits(receiver: Receiver) -> None:
    script = (
        "import traceforge\n"
        "with traceforge.session('s-exit'), traceforge.span('at-exit', kind='agent'):\n"
        "    pass\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEFORGE_API"))}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ((name, (span, resource)),) = receiver.spans().items()
    assert name == "invoke_agent at-exit"
    assert _attributes(span.attributes)["session.id"] == "s-exit"
    assert resource["service.name"] == "python"  # `python -c`: no script name


def test_endpoint_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert traces_endpoint() == "http://127.0.0.1:3001/v1/traces"
    assert tracing_setup.DEFAULT_API_URL == "http://127.0.0.1:3001"
    assert traces_endpoint("http://h:9/") == "http://h:9/v1/traces"
    assert traces_endpoint("https://h/v1/traces") == "https://h/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert traces_endpoint() == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom")
    assert traces_endpoint() == "http://collector:4318/custom"
    assert traces_endpoint("http://given:1") == "http://given:1/v1/traces"
    with pytest.raises(
        ValueError, match=r"must be an http:// or https:// URL, got '127\.0\.0\.1:3001'"
    ):
        traces_endpoint("127.0.0.1:3001")


def test_the_default_endpoint_is_used_when_traceforge_answers_there(
    otel_reset: None, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing_setup, "DEFAULT_API_URL", receiver.url)
    with traceforge.span("default"):
        pass
    assert traceforge.flush()
    assert set(receiver.spans()) == {"default"}


def test_no_traceforge_at_the_default_endpoint_one_warning_no_export(
    otel_reset: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(tracing_setup, "DEFAULT_API_URL", f"http://127.0.0.1:{port}")
    with caplog.at_level(logging.WARNING, logger="traceforge"):
        with traceforge.span("outer", kind="agent") as outer, traceforge.span("inner"):
            headers = traceforge.grouping_headers()
        with traceforge.span("again"):
            pass
    (record,) = caplog.records
    assert record.getMessage().startswith(
        f"TraceForge: no TraceForge API answers at http://127.0.0.1:{port}, so spans are not"
    )
    # the spans are real, so LLM calls made inside still nest in the proxy's run
    assert outer.get_span_context().is_valid and headers["traceparent"].startswith("00-")
    assert traceforge.flush()
