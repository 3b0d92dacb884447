"""Live export of ingested spans (``export.otlp`` set): what ``POST /v1/traces`` stores is sent
on as it is stored, and never bounces between two TraceForges exporting to each other.

Two live APIs (uvicorn on free ports), A and B, each over its own home; A's ``export.otlp``
points at B and B's at A: the loop a team gets when two instances forward to each other
(directly or through a Collector). An app sends an agent run to A with the standard
``opentelemetry-exporter-otlp-proto-http`` exporter; A exports it (through
``opentelemetry-sdk``) to B, which must hold the same run, redacted, and send nothing back.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from starlette.applications import Starlette

from traceforge_shared.otel.export_queue import ExportQueue
from traceforge_shared.spans import Span
from traceforge_shared.store import TraceStore
from traceforge_web_api.embedded import bind, embedded_server
from traceforge_web_api.otlp_forward import FORWARD_STATE_KEY, close_forwarder

SECRET = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9" * 2


@contextmanager
def _serve(store: TraceStore) -> Iterator[tuple[str, Starlette]]:
    """The API over ``store`` on a free loopback port: its base URL and its application."""
    server = embedded_server(store)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    app = server.config.app
    assert isinstance(app, Starlette)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        close_forwarder(app)
        server.should_exit = True
        thread.join(10)


def _export_to(home: Path, endpoint: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        f"export:\n  otlp:\n    endpoint: {endpoint}/v1/traces\n    timeout_s: 5\n"
    )


def _queue(app: Starlette) -> ExportQueue:
    queue = getattr(app.state, FORWARD_STATE_KEY, None)
    assert isinstance(queue, ExportQueue)
    return queue


def _send_run(base: str) -> str:
    """An agent run (agent → LLM call, agent → tool call with a secret in an argument) sent as
    an instrumented app sends it; returns its trace id (hex)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "weather-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "invoke_agent weather", attributes={"gen_ai.operation.name": "invoke_agent"}
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 5,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={"gen_ai.operation.name": "execute_tool", "app.api_key": SECRET},
        ):
            pass
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def _tree(spans: list[Span]) -> list[tuple[str, str | None, str, str]]:
    return sorted((s.span_id, s.parent_span_id, s.name, s.kind) for s in spans)


def _segments(store: TraceStore) -> list[str]:
    return sorted(p.name for p in (store.home / "spans").glob("*.jsonl"))


def test_ingested_spans_are_exported_and_never_bounce(tmp_path: Path) -> None:
    a = TraceStore(tmp_path / "a", fsync=False)
    b = TraceStore(tmp_path / "b", fsync=False)
    with _serve(a) as (a_url, a_app), _serve(b) as (b_url, b_app):
        _export_to(a.home, b_url)
        _export_to(b.home, a_url)
        run = _send_run(a_url)
        a_segments = _segments(a)
        assert _queue(a_app).flush()  # A → B, as the batch processor would after its delay
        assert _queue(b_app).flush()  # B has nothing to send back ...
        assert _queue(a_app).flush()
        assert _segments(a) == a_segments  # ... and A received nothing back

    mine, theirs = a.spans.get_run(run), b.spans.get_run(run)
    assert len(mine) == 3
    assert _tree(theirs) == _tree(mine)  # the same run: ids, parents, names, kinds
    ours, exported = a.spans.get_run_summary(run), b.spans.get_run_summary(run)
    assert (exported.llm_calls, exported.input_tokens, exported.output_tokens) == (1, 12, 5)
    assert (ours.llm_calls, ours.input_tokens, ours.output_tokens) == (1, 12, 5)
    (tool,) = [s for s in theirs if s.kind == "tool"]
    assert tool.attributes["app.api_key"] != SECRET  # redacted before A stored and sent it
    assert SECRET not in (b.home / "spans").joinpath(_segments(b)[0]).read_text()


class _HeldCollector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that holds every export until the test releases it."""

    entered = threading.Event()
    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).entered.set()
        type(self).release.wait(30)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_the_ingest_answer_does_not_wait_for_the_export(tmp_path: Path) -> None:
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeldCollector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    store = TraceStore(tmp_path / "home", fsync=False)
    try:
        with _serve(store) as (url, app):
            _export_to(store.home, f"http://127.0.0.1:{collector.server_port}")
            first = _send_run(url)
            flushing = threading.Thread(target=_queue(app).flush)
            flushing.start()
            assert _HeldCollector.entered.wait(30)  # an export is in flight, held
            # Another request is answered and stored while that export still waits.
            second = _send_run(url)
            assert not _HeldCollector.release.is_set()
            assert len(store.spans.get_run(second)) == 3
            now = time.time_ns()
            body = {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": "5b8efff798038103d269b633813fc60c",
                                        "spanId": "eee19b7ec3c1b174",
                                        "name": "retrieve docs",
                                        "startTimeUnixNano": str(now),
                                        "endTimeUnixNano": str(now + 1_000_000),
                                    }
                                ]
                            }
                        ]
                    }
                ]
            }
            response = httpx.post(f"{url}/v1/traces", json=body, timeout=20)
            assert response.status_code == 200 and response.json() == {}
            _HeldCollector.release.set()
            flushing.join(30)
        assert len(store.spans.get_run(first)) == 3
    finally:
        _HeldCollector.release.set()
        collector.shutdown()
        collector.server_close()
