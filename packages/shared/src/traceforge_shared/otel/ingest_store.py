"""Store the spans of one OTLP export request: spans as span files, LLM calls as traces.

:func:`ingest` is what ``POST /v1/traces`` runs once the request is decoded. For each span:

1. map it (:func:`~traceforge_shared.otel.ingest_map.to_span`) and check it
   (:func:`~traceforge_shared.spans.check_span`); a span that fails is *rejected* (counted,
   its reason kept for the OTLP partial-success answer), the others are still stored;
2. an LLM span becomes a trace (:func:`~traceforge_shared.otel.ingest_map.to_trace`), unless
   the same call already came through the proxy: the proxy records the app's
   ``traceparent`` span id as its call's parent, so a client span whose span id is the
   parent of a proxied call's span *is* that call. Then no second trace is made: the span is
   stored with ``trace_ref`` = the proxied trace and without usage (the proxied span carries
   it, so the run's token sums count the call once). An LLM span sent again (an exporter's
   retry) keeps the trace it got the first time;
3. traces are redacted (the home's redaction config, the redactor span writes use) and saved,
   then the spans are written (:meth:`~traceforge_shared.store.spans.SpanStore.write`, which
   redacts them too): nothing unredacted reaches the disk.

The spans to export on (``export.otlp``) are :attr:`IngestResult.to_export`: every stored span
except those a TraceForge exported itself (resource attribute
:data:`~traceforge_shared.otel.export_names.EXPORTED_MARK`), so spans never loop between two
TraceForges exporting to each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from traceforge_shared.otel.export_names import EXPORTED_MARK
from traceforge_shared.otel.ingest_map import TRACE_KINDS, DecodedSpan, to_span, to_trace
from traceforge_shared.spans import Span, SpanProblem, check_span
from traceforge_shared.store import TraceStore
from traceforge_shared.store.errors import RunNotFoundError
from traceforge_shared.trace import Trace

#: Largest time stored (int64 ns, the index's integer range; year 2262).
_MAX_NS = 2**63 - 1

#: At most this many rejection reasons are kept (the answer's ``error_message``).
MAX_REASONS = 5


@dataclass
class IngestResult:
    """What :func:`ingest` stored.

    Attributes:
        spans: spans written.
        traces: traces created for LLM calls.
        linked: LLM spans matched to a call recorded by the proxy (no trace created).
        rejected: spans refused (bad ids, end before start, ...).
        reasons: why, for the first :data:`MAX_REASONS` refused spans.
        saved_traces, saved_spans: what was written (redacted), for live announcements.
        to_export: the saved spans to export on: those not exported by a TraceForge.
    """

    spans: int = 0
    traces: int = 0
    linked: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    saved_traces: list[Trace] = field(default_factory=list, repr=False)
    saved_spans: list[Span] = field(default_factory=list, repr=False)
    to_export: list[Span] = field(default_factory=list, repr=False)

    def reject(self, reason: str) -> None:
        """Count one refused span and keep its reason (the first few)."""
        self.rejected += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)

    @property
    def error_message(self) -> str:
        """The reasons as one sentence for OTLP's ``partial_success.error_message``
        (``""`` when nothing was rejected)."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.reasons)
        tail = f"; and {more} more" if more > 0 else ""
        return f"{self.rejected} span(s) rejected: " + "; ".join(self.reasons) + tail


def _existing(store: TraceStore, trace_id: str) -> list[Span]:
    try:
        return store.spans.get_run(trace_id)
    except RunNotFoundError:
        return []


def ingest(store: TraceStore, decoded: Sequence[DecodedSpan]) -> IngestResult:
    """Store ``decoded`` (the spans of one OTLP request) in ``store``; see the module.

    Returns:
        The counts, and the reasons of rejected spans.

    Raises:
        OSError: a trace or span file could not be written.
    """
    result = IngestResult()
    accepted: list[tuple[DecodedSpan, Span]] = []
    for raw in decoded:
        try:
            span = to_span(raw)
            check_span(span)
            if not 0 <= span.start_ns <= _MAX_NS or span.end_ns > _MAX_NS:
                raise SpanProblem(f"span {span.span_id!r}: times must be Unix epoch ns in int64")
        except (SpanProblem, ValueError, TypeError) as exc:
            result.reject(str(exc))
            continue
        accepted.append((raw, span))

    by_run: dict[str, list[tuple[DecodedSpan, Span]]] = defaultdict(list)
    for raw, span in accepted:
        by_run[span.trace_id].append((raw, span))
    traces: list[Trace] = []
    for trace_id, members in by_run.items():
        calls = [(raw, span) for raw, span in members if span.kind in TRACE_KINDS]
        if not calls:
            continue
        known = _existing(store, trace_id)
        proxied = {s.parent_span_id: s for s in known if s.source == "proxy" and s.parent_span_id}
        earlier = {s.span_id: s for s in known if s.source != "proxy" and s.trace_ref}
        for raw, span in calls:
            match = proxied.get(span.span_id)
            if match is not None:
                span.trace_ref = match.trace_ref
                span.usage = None
                result.linked += 1
                continue
            trace = to_trace(raw, span)
            previous = earlier.get(span.span_id)
            if previous is not None and previous.trace_ref:
                trace.id = previous.trace_ref
            span.trace_ref = trace.id
            span.cost_usd = trace.metadata.cost_usd
            traces.append(trace)

    redactor = store.spans.redactor
    for trace in traces:
        redactor.before_save(trace)
    if traces:
        store.save_many(traces)
        result.traces = len(traces)
        result.saved_traces = traces
    result.spans = store.spans.write([span for _, span in accepted])
    result.saved_spans = [span for _, span in accepted]
    result.to_export = [
        span for raw, span in accepted if raw.resource.get(EXPORTED_MARK) is not True
    ]
    return result
