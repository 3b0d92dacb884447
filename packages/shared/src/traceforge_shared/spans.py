"""Spans, runs and sessions: agent runs as one tree.

Words (docs/runs.md):

- a **trace** is one recorded call (:class:`traceforge_shared.trace.Trace`);
- a **span** is one timed operation of a run (an LLM call, a tool call, an agent step);
- a **run** is the tree of spans under one W3C trace id (``trace_id``, 32 hex digits,
  https://www.w3.org/TR/trace-context/#trace-id);
- a **session** groups the runs of one conversation or user (``session_id``).

A call through the proxy is a span too: the proxy records the call's span context on the
trace (:class:`traceforge_shared.trace.SpanContext`) and the store derives a span row from it
when it indexes the trace (:func:`span_from_trace`), without a second file. Spans that arrive
over OTLP or from the SDK are stored as span files (:mod:`traceforge_shared.store.spans`).

Kinds follow the OpenTelemetry GenAI operation names (``gen_ai.operation.name``,
https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/) where one exists
(:data:`KIND_FOR_OPERATION`, :data:`OPERATION_FOR_KIND`); times are Unix epoch nanoseconds,
as in OTLP (https://opentelemetry.io/docs/specs/otlp/).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from traceforge_shared.trace import Trace, Usage

#: What a span does. ``llm``: a chat or text completion call; ``embedding``: an embeddings
#: call; ``agent``: an agent's turn or whole task; ``tool``: a tool (function) call;
#: ``retrieval``: a search in a vector store or index; ``mcp``: a Model Context Protocol
#: request; ``chain``: a step grouping others (a workflow, a pipeline); ``custom``: anything
#: else.
SpanKind = Literal["llm", "embedding", "agent", "tool", "retrieval", "mcp", "chain", "custom"]

SPAN_KINDS: tuple[str, ...] = (
    "llm",
    "embedding",
    "agent",
    "tool",
    "retrieval",
    "mcp",
    "chain",
    "custom",
)

#: ``gen_ai.operation.name`` value → span kind. Unknown operations are ``custom``.
KIND_FOR_OPERATION: dict[str, str] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "retrieval": "retrieval",
}

#: Span kind → the ``gen_ai.operation.name`` to export it with (kinds without one: none).
OPERATION_FOR_KIND: dict[str, str] = {
    "llm": "chat",
    "embedding": "embeddings",
    "tool": "execute_tool",
    "agent": "invoke_agent",
    "retrieval": "retrieval",
}

#: Span status, as OTLP's ``Status.code``: ``unset`` (the default), ``ok``, ``error``.
SpanStatus = Literal["unset", "ok", "error"]
SPAN_STATUSES: tuple[str, ...] = ("unset", "ok", "error")

#: Where a span came from: ``proxy`` (derived from a recorded trace), ``otlp`` (received on
#: the OTLP endpoint), ``sdk`` (written by the TraceForge SDK's tracing).
SpanSource = Literal["proxy", "otlp", "sdk"]
SPAN_SOURCES: tuple[str, ...] = ("proxy", "otlp", "sdk")

TRACE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
SPAN_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def is_trace_id(text: str) -> bool:
    """Whether ``text`` is a valid W3C trace id: 32 lower-case hex digits, not all zero."""
    return bool(TRACE_ID_RE.fullmatch(text)) and text != _ZERO_TRACE


def is_span_id(text: str) -> bool:
    """Whether ``text`` is a valid W3C span (parent) id: 16 lower-case hex, not all zero."""
    return bool(SPAN_ID_RE.fullmatch(text)) and text != _ZERO_SPAN


def iso_from_ns(epoch_ns: int) -> str:
    """``epoch_ns`` (Unix epoch nanoseconds) as ISO 8601 UTC with microseconds and a ``Z``
    (the trace timestamp format, e.g. ``2026-11-23T08:55:54.123456Z``)."""
    seconds, ns = divmod(epoch_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ns_from_iso(text: str) -> int:
    """Unix epoch nanoseconds of an ISO 8601 time (``Z`` or an offset; naive means UTC).

    Raises:
        ValueError: ``text`` is not an ISO 8601 time.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class SpanEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A timed event inside a span (OTLP ``Span.Event``), e.g. an exception or a message.

    Attributes:
        name: the event name (``exception``, ``gen_ai.user.message``, ...).
        time_ns: when, Unix epoch nanoseconds.
        attributes: its attributes (redacted before saving).
    """

    name: str
    time_ns: int
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class Span(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One timed operation of a run.

    Attributes:
        trace_id: the run id: W3C trace id, 32 lower-case hex digits.
        span_id: 16 lower-case hex digits, unique in the run.
        parent_span_id: the parent span's id; ``None`` for a root span (or a span whose
            parent is outside TraceForge: the tree shows it as a root).
        name: what the span is called (OTel span name, e.g. ``chat gpt-4o-mini``).
        kind: one of :data:`SPAN_KINDS`.
        start_ns: start, Unix epoch nanoseconds.
        end_ns: end, Unix epoch nanoseconds (``>= start_ns``).
        start_time: the start as ISO 8601 UTC; filled from ``start_ns`` when left empty.
        status: one of :data:`SPAN_STATUSES`.
        status_message: why it errored, when it did.
        attributes: OTel attributes (``gen_ai.*`` and others), redacted before saving.
        events: its timed events.
        session_id: the session the run belongs to, when known.
        tags: free labels (``X-TraceForge-Tags``).
        trace_ref: the TraceForge trace id when this span is an LLM call recorded as a trace.
        provider: ``gen_ai.provider.name`` for LLM and embedding spans.
        model: ``gen_ai.request.model`` for LLM and embedding spans.
        usage: token usage for LLM spans (the trace's :class:`~traceforge_shared.trace.Usage`).
        cost_usd: cost in USD, when known.
        source: one of :data:`SPAN_SOURCES`.
    """

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    parent_span_id: str | None = None
    kind: str = "custom"
    start_time: str = ""
    status: str = "unset"
    status_message: str | None = None
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    events: list[SpanEvent] = msgspec.field(default_factory=list)
    session_id: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    trace_ref: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    source: str = "otlp"

    def __post_init__(self) -> None:
        if not self.start_time:
            self.start_time = iso_from_ns(self.start_ns)

    @property
    def duration_ms(self) -> float:
        """``end_ns - start_ns`` in milliseconds (0 when the end is before the start)."""
        return max(0, self.end_ns - self.start_ns) / 1e6


class SpanProblem(ValueError):
    """A span that cannot be stored: bad ids, unknown kind/status/source, end before start.

    The message names the span and the field, e.g. ``span 00f0...: trace_id must be 32
    lower-case hex digits``.
    """


def check_span(span: Span) -> None:
    """Check a span's fields before storing it.

    Raises:
        SpanProblem: an id is not W3C hex (trace id 32, span ids 16 digits, not all zero),
            ``kind``/``status``/``source`` is not a known value, or ``end_ns < start_ns``.
    """
    where = f"span {span.span_id!r} of run {span.trace_id!r}"
    if not is_trace_id(span.trace_id):
        raise SpanProblem(f"{where}: trace_id must be 32 lower-case hex digits, not all zero")
    if not is_span_id(span.span_id):
        raise SpanProblem(f"{where}: span_id must be 16 lower-case hex digits, not all zero")
    if span.parent_span_id is not None and not is_span_id(span.parent_span_id):
        raise SpanProblem(f"{where}: parent_span_id must be 16 lower-case hex digits")
    if span.kind not in SPAN_KINDS:
        raise SpanProblem(f"{where}: unknown kind {span.kind!r}; one of {', '.join(SPAN_KINDS)}")
    if span.status not in SPAN_STATUSES:
        raise SpanProblem(f"{where}: unknown status {span.status!r}")
    if span.source not in SPAN_SOURCES:
        raise SpanProblem(f"{where}: unknown source {span.source!r}")
    if span.end_ns < span.start_ns:
        raise SpanProblem(f"{where}: end_ns is before start_ns")


def kind_of_endpoint(endpoint: str) -> str:
    """The span kind of a proxied call by its path: ``embedding`` for embeddings endpoints
    (``/v1/embeddings``, Gemini ``:embedContent``, Ollama ``/api/embed``), else ``llm``."""
    lowered = endpoint.lower()
    return "embedding" if "embed" in lowered else "llm"


def span_from_trace(trace: Trace) -> Span | None:
    """The span of a proxied call, derived from its trace (``None`` when the trace has no
    span context: recorded before TraceForge 0.x kept one, or imported).

    Name ``<operation> <model>`` (the OTel GenAI span name), kind ``llm``/``embedding``,
    status ``error`` unless the trace's status is ``success``, times from the trace's
    timestamp and ``latency_ms``; ``gen_ai.*`` attributes, ``tags`` and ``meta``
    (as ``traceforge.meta.<key>``) copied.
    """
    context = trace.span
    if context is None:
        return None
    meta = trace.metadata
    kind = kind_of_endpoint(trace.endpoint)
    operation = OPERATION_FOR_KIND[kind]
    try:
        start_ns = ns_from_iso(trace.timestamp)
    except ValueError:
        return None
    end_ns = start_ns + int(meta.latency_ms * 1e6)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": trace.provider,
        "gen_ai.request.model": trace.model,
        "http.route": trace.endpoint,
        "http.response.status_code": meta.status_code,
        "traceforge.trace_id": trace.id,
    }
    if trace.response_model:
        attributes["gen_ai.response.model"] = trace.response_model
    if meta.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = meta.usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = meta.usage.completion_tokens
    for key, value in trace.meta.items():
        attributes[f"traceforge.meta.{key}"] = value
    ok = meta.status == "success"
    message = None
    if not ok:
        message = meta.error.message if meta.error is not None else meta.status
    return Span(
        trace_id=context.trace_id,
        span_id=context.span_id,
        parent_span_id=context.parent_span_id,
        name=f"{operation} {trace.model}".strip(),
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        start_time=trace.timestamp,
        status="ok" if ok else "error",
        status_message=message,
        attributes=attributes,
        session_id=trace.session_id,
        tags=list(trace.tags),
        trace_ref=trace.id,
        provider=trace.provider,
        model=trace.model or None,
        usage=meta.usage,
        cost_usd=meta.cost_usd,
        source="proxy",
    )


class RunSummary(msgspec.Struct, kw_only=True, frozen=True):
    """One run as :meth:`SpanStore.list_runs` lists it (from the index, no file parsed).

    Attributes:
        trace_id: the run id (32 hex).
        name: the root span's name (the earliest root when there are several).
        kind: the root span's kind.
        start_time: the earliest span start, ISO 8601 UTC.
        start_ns: the same, Unix epoch nanoseconds.
        duration_ms: from the earliest start to the latest end, ms.
        span_count: spans in the run.
        llm_calls: LLM and embedding calls: spans of kind ``llm`` / ``embedding``, a call
            seen both through the proxy and as an ingested client span (same
            ``trace_ref``) counted once.
        input_tokens: sum of the LLM spans' input (prompt) tokens.
        output_tokens: sum of their output (completion) tokens.
        cost_usd: sum of the known costs; ``None`` when no span has one.
        status: ``error`` if any span errored, else ``ok`` if any span is ok, else ``unset``.
        error_count: spans with status ``error``.
        session_id: the run's session (the first span carrying one), if any.
    """

    trace_id: str
    name: str
    kind: str
    start_time: str
    start_ns: int
    duration_ms: float
    span_count: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    status: str
    error_count: int
    session_id: str | None


class SessionSummary(msgspec.Struct, kw_only=True, frozen=True):
    """One session as :meth:`SpanStore.list_sessions` lists it.

    Attributes:
        session_id: the session id as the app sent it.
        runs: runs in the session.
        calls: LLM and embedding spans in it.
        input_tokens: sum of input tokens.
        output_tokens: sum of output tokens.
        cost_usd: sum of known costs; ``None`` when none is known.
        errors: spans with status ``error``.
        first_time: the earliest span start, ISO 8601 UTC.
        last_time: the latest span end, ISO 8601 UTC.
    """

    session_id: str
    runs: int
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    errors: int
    first_time: str
    last_time: str
