"""Fixtures of the SDK's tracing tests: OpenTelemetry's process-wide tracer provider reset
around a test, an application's own provider keeping spans in memory, and the real proxy in
front of its mock upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from traceforge import tracing_setup
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.upstream import MOCK_PREFIXES, Upstream
from traceforge_shared.config import Config
from traceforge_shared.store import TraceStore


def _reset_globals() -> None:
    # What opentelemetry-test-utils' reset_trace_globals() does: the API lets a process set
    # the global provider once, and each test needs a fresh start.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    tracing_setup.reset()


@pytest.fixture
def otel_reset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global tracer provider and no TraceForge configuration, before and after; the OTLP
    endpoint variables unset and no API token."""
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
        "TRACEFORGE_API_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    _reset_globals()
    yield
    _reset_globals()


@pytest.fixture
def spans(otel_reset: None) -> Iterator[InMemorySpanExporter]:
    """An application that set its own global tracer provider, exporting to memory: the
    exporter, whose ``get_finished_spans()`` are the spans ended so far."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    """A trace store in a fresh home (``tmp_path / "home"``)."""
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
def proxy(store: TraceStore) -> Iterator[BackgroundProxy]:
    """The proxy on a free port saving to ``store``, every provider answered by the embedded
    mock upstream (recorded transcripts, no pause between events)."""
    config = Config()
    config.proxy.port = 0
    mocks = {
        provider: Upstream(
            provider=provider,
            base_url=None,
            api_key=None,
            inject_stream_usage=provider == "openai",
            mock=True,
        )
        for provider in MOCK_PREFIXES
    }
    with BackgroundProxy(ProxyService(config, mocks, store, mock_delay_ms=0)) as running:
        yield running
