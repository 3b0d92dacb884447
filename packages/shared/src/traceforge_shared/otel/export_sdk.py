"""Sending spans through the OpenTelemetry SDK: OTLP/HTTP to any endpoint, OTLP/JSON lines
to a file, and the GenAI duration histograms.

:class:`OtlpExport` is built from ``export.otlp``
(:class:`~traceforge_shared.config.OtlpExportConfig`). Two ways in:

- :meth:`OtlpExport.submit` (called from the thread of
  :class:`~traceforge_shared.otel.export_queue.ExportQueue`, which the proxy's ``saved`` hook
  and the web API's ingest feed): the span goes to the SDK's ``BatchSpanProcessor``, which
  queues it (bounded: 2,048 spans, the excess dropped, never waited for) and exports batches
  of up to 512 from its own thread, so the caller never blocks on the network;
- :meth:`OtlpExport.send` (``traceforge export otlp``): exports synchronously and says how
  many spans every destination accepted.

The OTLP/HTTP exporter (``opentelemetry-exporter-otlp-proto-http``) encodes with
``opentelemetry-proto`` and retries 429/502/503/504 answers with exponential backoff within
``timeout_s``. Spans are made with their recorded ids and start/end times (the SDK's
``ReadableSpan``), not timed again. Metrics (``names.duration_metric``,
``names.first_chunk_metric``, seconds) go to ``<endpoint>/v1/metrics`` every
``metrics_interval_s`` and at :meth:`OtlpExport.shutdown`; a backfill records them at export
time (OTel metrics carry no historical timestamps).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from traceforge_shared.config import OtlpExportConfig
from traceforge_shared.otel.export_json import otlp_json_line
from traceforge_shared.otel.export_map import ExportSpan, span_of_stored, span_of_trace
from traceforge_shared.otel.export_names import DURATION_BUCKETS_S, EXPORTED_MARK, names_for
from traceforge_shared.spans import Span
from traceforge_shared.trace import Trace

__all__ = ["SCOPE_NAME", "OtlpExport", "OtlpJsonFileExporter", "signal_url"]

log = logging.getLogger("traceforge.otel")

#: The instrumentation scope of exported spans and metrics.
SCOPE_NAME = "traceforge"
_VERSION = "0.1.0"
_BATCH = 512


def signal_url(endpoint: str, signal: str) -> str:
    """``<endpoint>/v1/<signal>`` (``signal``: ``traces`` or ``metrics``), as the
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` rule of the OTLP exporter spec; an endpoint already
    ending in ``/v1/traces`` is kept for traces."""
    base = endpoint.rstrip("/")
    if base.endswith("/v1/traces"):
        return base if signal == "traces" else base[: -len("traces")] + signal
    return f"{base}/v1/{signal}"


class OtlpJsonFileExporter(SpanExporter):
    """A span exporter appending one OTLP/JSON ``ExportTraceServiceRequest`` per line to a
    file (what the Collector's ``otlpjsonfile`` receiver reads), rotated by size.

    Args:
        path: the file (its folder is created).
        max_bytes: rotate before a line would take the file past this size (bytes).
        backups: rotated files kept: ``path.1`` (newest) to ``path.<backups>``.
    """

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()

    def _rotate(self) -> None:
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Append ``spans`` as one line; ``FAILURE`` (logged) if the file cannot be written."""
        line = (otlp_json_line(encode_spans(spans)) + "\n").encode()
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                size = self.path.stat().st_size if self.path.exists() else 0
                if size and size + len(line) > self.max_bytes:
                    self._rotate()
                with self.path.open("ab") as out:
                    out.write(line)
            except OSError as exc:
                log.warning("OTLP file export to %s failed: %s", self.path, exc)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release (the file is opened per batch)."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Lines are written as they come: always flushed."""
        return True


class OtlpExport:
    """Spans of saved traces and stored spans, exported as OpenTelemetry GenAI spans.

    Args:
        settings: ``export.otlp`` (semconv, content capture, headers, timeout, file size).
        home: the TraceForge home; a relative ``file`` is under it.
        endpoint: overrides ``settings.endpoint`` (``""``: no endpoint).
        file: overrides ``settings.file`` (``""``: no file).
        metrics_interval_s: seconds between two metric exports (live export).

    Raises:
        ValueError: neither an endpoint nor a file is set.
    """

    def __init__(
        self,
        settings: OtlpExportConfig,
        *,
        home: Path | None = None,
        endpoint: str | None = None,
        file: str | Path | None = None,
        metrics_interval_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.names = names_for(settings.semconv)
        self.endpoint = settings.endpoint if endpoint is None else (endpoint or None)
        chosen = settings.file if file is None else (str(file) or None)
        self.file: Path | None = None
        if chosen:
            path = Path(chosen).expanduser()
            self.file = path if path.is_absolute() or home is None else home / path
        if self.endpoint is None and self.file is None:
            raise ValueError("export.otlp: set an endpoint or a file")
        self.resource = Resource(
            {
                "service.name": settings.service_name,
                "telemetry.sdk.language": "python",
                EXPORTED_MARK: True,
            },
            schema_url=self.names.schema_url,
        )
        self.scope = InstrumentationScope(SCOPE_NAME, _VERSION, self.names.schema_url)
        self.exporters: list[SpanExporter] = []
        headers = dict(settings.headers) or None
        if self.endpoint is not None:
            self.exporters.append(
                OTLPSpanExporter(
                    endpoint=signal_url(self.endpoint, "traces"),
                    headers=headers,
                    timeout=settings.timeout_s,
                )
            )
        if self.file is not None:
            self.exporters.append(
                OtlpJsonFileExporter(
                    self.file,
                    max_bytes=settings.file_max_mb * 1024 * 1024,
                    backups=settings.file_backups,
                )
            )
        self._processors: list[BatchSpanProcessor] = []
        self._closed = False
        self._meter_provider: MeterProvider | None = None
        self._duration: Histogram | None = None
        self._first_chunk: Histogram | None = None
        if self.endpoint is not None and not self.endpoint.rstrip("/").endswith("/v1/traces"):
            reader = PeriodicExportingMetricReader(
                OTLPMetricExporter(
                    endpoint=signal_url(self.endpoint, "metrics"),
                    headers=headers,
                    timeout=settings.timeout_s,
                ),
                export_interval_millis=metrics_interval_s * 1000,
            )
            self._meter_provider = MeterProvider(resource=self.resource, metric_readers=[reader])
            meter = self._meter_provider.get_meter(
                SCOPE_NAME, _VERSION, schema_url=self.names.schema_url
            )
            self._duration = meter.create_histogram(  # type: ignore[assignment]
                self.names.duration_metric,
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
            )
            self._first_chunk = meter.create_histogram(  # type: ignore[assignment]
                self.names.first_chunk_metric,
                unit="s",
                description="Time to receive the first chunk of a streamed answer.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
            )

    # -- mapping -------------------------------------------------------------------------

    def map_trace(self, trace: Trace) -> ExportSpan:
        """The export span of a saved trace
        (:func:`~traceforge_shared.otel.export_map.span_of_trace`).

        Raises:
            ValueError: the trace's timestamp is not ISO 8601.
        """
        return span_of_trace(trace, self.names, capture_content=self.settings.capture_content)

    def map_span(self, span: Span) -> ExportSpan:
        """The export span of a stored span
        (:func:`~traceforge_shared.otel.export_map.span_of_stored`)."""
        return span_of_stored(span, self.names, capture_content=self.settings.capture_content)

    def readable(self, span: ExportSpan) -> ReadableSpan:
        """``span`` as the SDK's finished span, with its recorded ids and times."""
        flags = TraceFlags(TraceFlags.SAMPLED)
        trace_id = int(span.trace_id, 16)
        context = SpanContext(trace_id, int(span.span_id, 16), is_remote=False, trace_flags=flags)
        parent = None
        if span.parent_span_id:
            parent = SpanContext(
                trace_id, int(span.parent_span_id, 16), is_remote=True, trace_flags=flags
            )
        if span.error:
            status = Status(StatusCode.ERROR, span.status_message)
        else:
            status = Status(StatusCode.OK if span.ok else StatusCode.UNSET)
        return ReadableSpan(
            span.name,
            context=context,
            parent=parent,
            resource=self.resource,
            attributes=span.attributes,
            events=[Event(e.name, e.attributes, e.time_ns) for e in span.events],
            kind=SpanKind.CLIENT if span.client else SpanKind.INTERNAL,
            status=status,
            start_time=span.start_ns,
            end_time=span.end_ns,
            instrumentation_scope=self.scope,
        )

    def _record(self, span: ExportSpan) -> None:
        if self._duration is None or self._first_chunk is None or span.duration_s is None:
            return
        self._duration.record(span.duration_s, span.metric_attributes)
        if span.first_chunk_s is not None:
            self._first_chunk.record(span.first_chunk_s, span.metric_attributes)

    # -- live ----------------------------------------------------------------------------

    def submit(self, span: ExportSpan) -> None:
        """Queue ``span`` for the batch processors (returns at once; exported from their
        threads) and record its metrics."""
        if not self._processors:
            self._processors = [BatchSpanProcessor(e) for e in self.exporters]
        readable = self.readable(span)
        for processor in self._processors:
            processor.on_end(readable)
        self._record(span)

    # -- backfill ------------------------------------------------------------------------

    def send(self, spans: Iterable[ExportSpan]) -> int:
        """Export ``spans`` now, in batches of 512, to every destination; record metrics.

        Returns:
            how many spans were sent.

        Raises:
            OSError: a destination refused a batch (after the exporter's retries), naming it.
        """
        sent = 0
        batch: list[ExportSpan] = []
        for span in spans:
            batch.append(span)
            if len(batch) == _BATCH:
                sent += self._send_batch(batch)
                batch = []
        if batch:
            sent += self._send_batch(batch)
        return sent

    def _send_batch(self, batch: list[ExportSpan]) -> int:
        readable = [self.readable(s) for s in batch]
        for exporter in self.exporters:
            if exporter.export(readable) is not SpanExportResult.SUCCESS:
                where = self.file if isinstance(exporter, OtlpJsonFileExporter) else self.endpoint
                raise OSError(f"OTLP export to {where} failed (see the log for the reason)")
        for span in batch:
            self._record(span)
        return len(batch)

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        """Export what is queued (spans and metrics); whether it all went within the time."""
        millis = int(timeout_s * 1000)
        done = all(p.force_flush(millis) for p in self._processors)
        if self._meter_provider is not None:
            done = self._meter_provider.force_flush(millis) and done
        return done

    def shutdown(self) -> None:
        """Flush and stop: the batch threads, the exporters and the metric reader (a second
        call does nothing)."""
        if self._closed:
            return
        self._closed = True
        for processor in self._processors:
            processor.shutdown()  # type: ignore[no-untyped-call]  # flushes, then its exporter
        if not self._processors:
            for exporter in self.exporters:
                exporter.shutdown()
        self._processors = []
        if self._meter_provider is not None:
            self._meter_provider.shutdown()
            self._meter_provider = None
