"""OTLP spans → TraceForge spans and traces: pure functions over decoded spans.

The web API decodes an OTLP ``ExportTraceServiceRequest`` (protobuf or OTLP/JSON,
https://opentelemetry.io/docs/specs/otlp/#otlphttp) into :class:`DecodedSpan` values; this
module reads each one's attributes in every naming generation and builds

- a :class:`~traceforge_shared.spans.Span` (:func:`to_span`): kind, provider, model, usage,
  status, session; the original attributes and events kept;
- for an LLM call, a :class:`~traceforge_shared.trace.Trace` (:func:`to_trace`): request in
  the Chat Completions view, the answer as a ``chat.completion``, usage, timings, status.

Names read (first found wins, newest naming first):

==============  ===============================================================================
what            attributes
==============  ===============================================================================
operation       ``gen_ai.operation.name`` (semantic conventions v1.26-v1.41, GenAI conventions
                v0.1: https://github.com/open-telemetry/semantic-conventions-genai);
                ``openinference.span.kind`` (``LLM``, ``EMBEDDING``, ``TOOL``, ``AGENT``,
                ``RETRIEVER``, ``RERANKER``, ``CHAIN``: https://github.com/Arize-ai/openinference
                spec/semantic_conventions.md); ``ai.operationId`` (Vercel AI SDK:
                ``ai.generateText.doGenerate``, ``ai.streamText.doStream``, ``ai.toolCall``,
                ``ai.embed.doEmbed``: https://ai-sdk.dev/docs/ai-sdk-core/telemetry);
                ``traceloop.span.kind`` / ``llm.request.type`` (OpenLLMetry); ``mcp.method.name``
provider        ``gen_ai.provider.name`` (v1.37+), ``gen_ai.system`` (older), ``llm.provider`` /
                ``llm.system`` (OpenInference), ``ai.model.provider`` (``openai.chat`` → ``openai``)
model           ``gen_ai.request.model``, ``llm.model_name``, ``ai.model.id``;
                ``gen_ai.response.model``, ``ai.response.model``
input tokens    ``gen_ai.usage.input_tokens``, ``gen_ai.usage.prompt_tokens``,
                ``llm.token_count.prompt``, ``ai.usage.inputTokens``, ``ai.usage.promptTokens``
output tokens   ``gen_ai.usage.output_tokens``, ``gen_ai.usage.completion_tokens``,
                ``llm.token_count.completion``, ``ai.usage.outputTokens``,
                ``ai.usage.completionTokens``
cache           reads: ``gen_ai.usage.cache_read.input_tokens`` (v1.38+),
                ``gen_ai.usage.cache_read_input_tokens``,
                ``llm.token_count.prompt_details.cache_read``, ``ai.usage.cachedInputTokens``;
                writes: ``gen_ai.usage.cache_write.input_tokens`` (v0.1),
                ``gen_ai.usage.cache_creation.input_tokens`` (v1.38+),
                ``gen_ai.usage.cache_creation_input_tokens``,
                ``llm.token_count.prompt_details.cache_write``
reasoning       ``gen_ai.usage.reasoning.output_tokens``,
                ``llm.token_count.completion_details.reasoning``, ``ai.usage.reasoningTokens``
parameters      ``gen_ai.request.temperature`` / ``top_p`` / ``max_tokens`` / ``seed`` /
                ``frequency_penalty`` / ``presence_penalty`` / ``stop_sequences`` /
                ``choice.count``; ``llm.invocation_parameters`` (JSON); ``ai.settings.*``
messages        see :mod:`traceforge_shared.otel.ingest_messages`
session         ``session.id`` (OpenInference), ``gen_ai.conversation.id``,
                ``ai.telemetry.metadata.sessionId``,
                ``traceloop.association.properties.session_id``
first chunk     ``gen_ai.response.time_to_first_chunk`` (s), ``ai.response.msToFirstChunk`` (ms)
==============  ===============================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from traceforge_shared.cost import cost_usd
from traceforge_shared.ids import new_trace_id
from traceforge_shared.otel.ingest_messages import input_messages, output_message, parse_json
from traceforge_shared.providers import PROVIDER_SPECS
from traceforge_shared.spans import KIND_FOR_OPERATION, SPAN_KINDS, Span, SpanEvent, iso_from_ns
from traceforge_shared.trace import Trace, TraceError, TraceMetadata, Usage

#: Span kinds whose spans become traces.
TRACE_KINDS = frozenset({"llm"})

#: OTLP ``Status.code``: 0 unset, 1 ok, 2 error
#: (https://opentelemetry.io/docs/specs/otel/trace/api/#set-status).
_STATUS = {0: "unset", 1: "ok", 2: "error"}

_OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "EMBEDDING": "embedding",
    "TOOL": "tool",
    "AGENT": "agent",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "CHAIN": "chain",
}
_TRACELOOP_KINDS = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}

#: ``gen_ai.provider.name`` / ``gen_ai.system`` values of older conventions and other
#: instrumentations → registry names (the registry's own ``otel_name`` values are added below).
_PROVIDER_ALIASES = {
    "gemini": "gemini",
    "google": "gemini",
    "gcp.vertex_ai": "gemini",
    "vertex_ai": "gemini",
    "gcp.gen_ai": "gemini",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "xai": "xai",
    "mistralai": "mistral",
    "cohere": "cohere",
}


class DecodedSpan(msgspec.Struct, kw_only=True):
    """One span of an OTLP request, decoded to plain values.

    Attributes:
        trace_id: hex as received (checked later: 32 lower-case hex digits).
        span_id: hex as received (16 digits).
        parent_span_id: hex, ``None`` for a root.
        name: the span name.
        start_ns: start, Unix epoch nanoseconds.
        end_ns: end, Unix epoch nanoseconds.
        attributes: ``AnyValue`` decoded (strings, ints, floats, bools, lists, dicts).
        events: ``{"name", "time_ns", "attributes"}`` per event.
        status_code: OTLP ``Status.code`` (0 unset, 1 ok, 2 error).
        status_message: OTLP ``Status.message``.
        resource: the resource's attributes (``service.name``, ...).
        scope: the instrumentation scope name.
    """

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    parent_span_id: str | None = None
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    events: list[dict[str, Any]] = msgspec.field(default_factory=list)
    status_code: int = 0
    status_message: str = ""
    resource: dict[str, Any] = msgspec.field(default_factory=dict)
    scope: str = ""


def _first(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def span_kind(attrs: Mapping[str, Any]) -> str:
    """The span kind (:data:`~traceforge_shared.spans.SPAN_KINDS`) from the operation
    attributes (see the module's table); ``custom`` when none says. A
    ``traceforge.span.kind`` attribute (set by the TraceForge SDK on every span) wins."""
    own = attrs.get(TRACEFORGE_SPAN_KIND)
    if isinstance(own, str) and own in SPAN_KINDS:
        return own
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation:
        return KIND_FOR_OPERATION.get(operation, "custom")
    oi_kind = attrs.get("openinference.span.kind")
    if isinstance(oi_kind, str) and oi_kind.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[oi_kind.upper()]
    op_id = attrs.get("ai.operationId")
    if isinstance(op_id, str) and op_id.startswith("ai."):
        if op_id == "ai.toolCall":
            return "tool"
        if op_id.endswith(".doEmbed"):
            return "embedding"
        if op_id.endswith((".doGenerate", ".doStream")):
            return "llm"
        return "chain"
    if "mcp.method.name" in attrs:
        return "mcp"
    request_type = attrs.get("llm.request.type")
    if request_type in ("chat", "completion"):
        return "llm"
    if request_type == "embedding":
        return "embedding"
    loop_kind = attrs.get("traceloop.span.kind")
    if isinstance(loop_kind, str) and loop_kind in _TRACELOOP_KINDS:
        return _TRACELOOP_KINDS[loop_kind]
    return "custom"


def provider_name(attrs: Mapping[str, Any]) -> str | None:
    """The TraceForge provider name (registry name, e.g. ``gemini`` for ``gcp.gemini``);
    a value the registry does not know is kept lower-cased; ``None`` when no attribute
    names one."""
    value = _first(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
    if value is None:
        vercel = attrs.get("ai.model.provider")
        value = str(vercel).split(".", 1)[0] if vercel else None
    if value is None:
        return None
    text = str(value).strip().lower()
    for spec in PROVIDER_SPECS.values():
        if text in (spec.name, spec.otel_name):
            return spec.name
    alias = _PROVIDER_ALIASES.get(text)
    if alias is not None and alias in PROVIDER_SPECS:
        return alias
    return text


def request_model(attrs: Mapping[str, Any]) -> str | None:
    """The model asked for (``gen_ai.request.model``, ``llm.model_name``, ``ai.model.id``)."""
    value = _first(attrs, "gen_ai.request.model", "llm.model_name", "ai.model.id")
    return None if value is None else str(value)


def response_model(attrs: Mapping[str, Any]) -> str | None:
    """The model that answered (``gen_ai.response.model``, ``ai.response.model``)."""
    value = _first(attrs, "gen_ai.response.model", "ai.response.model")
    return None if value is None else str(value)


def usage(attrs: Mapping[str, Any]) -> Usage | None:
    """Token usage from the attributes (see the module's table); ``None`` when neither input
    nor output tokens are recorded. Totals default to input + output."""
    prompt = _int(
        _first(
            attrs,
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.token_count.prompt",
            "ai.usage.inputTokens",
            "ai.usage.promptTokens",
        )
    )
    completion = _int(
        _first(
            attrs,
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
            "ai.usage.outputTokens",
            "ai.usage.completionTokens",
        )
    )
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    total = _int(_first(attrs, "gen_ai.usage.total_tokens", "llm.token_count.total")) or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=max(total, prompt + completion),
        cache_read_tokens=_int(
            _first(
                attrs,
                "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.usage.cache_read_input_tokens",
                "llm.token_count.prompt_details.cache_read",
                "ai.usage.cachedInputTokens",
            )
        )
        or 0,
        cache_write_tokens=_int(
            _first(
                attrs,
                "gen_ai.usage.cache_write.input_tokens",
                "gen_ai.usage.cache_creation.input_tokens",
                "gen_ai.usage.cache_creation_input_tokens",
                "llm.token_count.prompt_details.cache_write",
            )
        )
        or 0,
        reasoning_tokens=_int(
            _first(
                attrs,
                "gen_ai.usage.reasoning.output_tokens",
                "llm.token_count.completion_details.reasoning",
                "ai.usage.reasoningTokens",
            )
        )
        or 0,
    )


def session_id(attrs: Mapping[str, Any]) -> str | None:
    """The session (conversation) id, when an attribute carries one."""
    value = _first(
        attrs,
        "session.id",
        "gen_ai.conversation.id",
        "ai.telemetry.metadata.sessionId",
        "traceloop.association.properties.session_id",
    )
    return None if value is None else str(value)


def _status_message(decoded: DecodedSpan) -> str | None:
    if decoded.status_message:
        return decoded.status_message
    for event in decoded.events:
        if event.get("name") == "exception":
            attributes = event.get("attributes") or {}
            text = _first(attributes, "exception.message", "exception.type")
            if text is not None:
                return str(text)
    return None


def to_span(decoded: DecodedSpan) -> Span:
    """The TraceForge span of ``decoded`` (source ``otlp``), ids lower-cased, attributes and
    events as received (plus the resource's ``service.name`` when the span lacks it).
    Validity (ids, end after start) is checked when it is stored
    (:func:`~traceforge_shared.spans.check_span`)."""
    attrs = decoded.attributes
    kind = span_kind(attrs)
    keep = dict(attrs)
    service = decoded.resource.get("service.name")
    if service is not None and "service.name" not in keep:
        keep["service.name"] = service
    call = kind in ("llm", "embedding")
    return Span(
        trace_id=decoded.trace_id.lower(),
        span_id=decoded.span_id.lower(),
        parent_span_id=decoded.parent_span_id.lower() if decoded.parent_span_id else None,
        name=decoded.name,
        kind=kind,
        start_ns=decoded.start_ns,
        end_ns=decoded.end_ns,
        status=_STATUS.get(decoded.status_code, "unset"),
        status_message=_status_message(decoded) if decoded.status_code == 2 else None,
        attributes=keep,
        events=[
            SpanEvent(
                name=str(e.get("name", "")),
                time_ns=int(e.get("time_ns", 0)),
                attributes=dict(e.get("attributes") or {}),
            )
            for e in decoded.events
        ],
        session_id=session_id(attrs),
        tags=_tags(attrs),
        provider=provider_name(attrs) if call else None,
        model=request_model(attrs) if call else None,
        usage=usage(attrs) if call else None,
        source="sdk" if decoded.scope.startswith(SDK_SCOPE) else "otlp",
    )


#: Attributes the TraceForge SDK (``traceforge.span``) sets: the span's kind and the
#: session's tags (a string array).
TRACEFORGE_SPAN_KIND = "traceforge.span.kind"
TRACEFORGE_TAGS = "traceforge.tags"
#: Instrumentation scope names of the TraceForge SDK's tracer (source ``sdk``).
SDK_SCOPE = "traceforge"


def _tags(attrs: Mapping[str, Any]) -> list[str]:
    """The ``traceforge.tags`` attribute as a list of strings (empty when absent)."""
    value = attrs.get(TRACEFORGE_TAGS)
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, (list, tuple)):
        return [str(t) for t in value if str(t)]
    return []


_PARAMETERS = {
    "gen_ai.request.temperature": "temperature",
    "gen_ai.request.top_p": "top_p",
    "gen_ai.request.top_k": "top_k",
    "gen_ai.request.max_tokens": "max_tokens",
    "gen_ai.request.seed": "seed",
    "gen_ai.request.frequency_penalty": "frequency_penalty",
    "gen_ai.request.presence_penalty": "presence_penalty",
    "gen_ai.request.stop_sequences": "stop",
    "gen_ai.request.choice.count": "n",
    "ai.settings.temperature": "temperature",
    "ai.settings.topP": "top_p",
    "ai.settings.topK": "top_k",
    "ai.settings.maxOutputTokens": "max_tokens",
    "ai.settings.maxTokens": "max_tokens",
    "ai.settings.seed": "seed",
    "ai.settings.frequencyPenalty": "frequency_penalty",
    "ai.settings.presencePenalty": "presence_penalty",
    "ai.settings.stopSequences": "stop",
}


def chat_request(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The request in the Chat Completions view: ``model``, ``messages``, the sampling
    parameters recorded (``llm.invocation_parameters`` first, then ``gen_ai.request.*``
    and ``ai.settings.*``), ``stream`` when known."""
    request: dict[str, Any] = {}
    model = request_model(attrs)
    if model:
        request["model"] = model
    request["messages"] = input_messages(attrs, events)
    invocation = parse_json(attrs.get("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        for key, value in invocation.items():
            if key not in ("model", "messages"):
                request.setdefault(key, value)
    for attribute, key in _PARAMETERS.items():
        if attribute in attrs:
            request.setdefault(key, attrs[attribute])
    stream = attrs.get("gen_ai.request.stream")
    if isinstance(stream, bool):
        request["stream"] = stream
    elif str(attrs.get("ai.operationId", "")).endswith(".doStream"):
        request["stream"] = True
    return request


def _first_chunk_ms(attrs: Mapping[str, Any], events: list[dict[str, Any]]) -> float | None:
    seconds = attrs.get("gen_ai.response.time_to_first_chunk")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return float(seconds) * 1000
    ms = attrs.get("ai.response.msToFirstChunk")
    for event in events:
        if event.get("name") == "ai.stream.firstChunk":
            ms = (event.get("attributes") or {}).get("ai.response.msToFirstChunk", ms)
    if isinstance(ms, (int, float)) and not isinstance(ms, bool):
        return float(ms)
    return None


def to_trace(decoded: DecodedSpan, span: Span) -> Trace:
    """The trace of an LLM call span (``span`` is :func:`to_span` of ``decoded``): request
    in the Chat Completions view, the answer as a ``chat.completion`` (``None`` when the
    span recorded no output), usage, cost (USD, :func:`traceforge_shared.cost.cost_usd`),
    latency (the span's duration, ms), time to first chunk when recorded, status
    ``success`` or ``error`` (span status error; the message from ``Status.message`` or the
    ``exception`` event). Endpoint ``/v1/chat/completions`` (the view the request is in);
    the trace is new (:func:`~traceforge_shared.ids.new_trace_id`) and not redacted yet."""
    attrs = decoded.attributes
    request = chat_request(attrs, decoded.events)
    message, reason = output_message(attrs, decoded.events)
    answered_by = response_model(attrs)
    model = request.get("model") or answered_by or ""
    response: dict[str, Any] | None = None
    if message is not None or span.usage is not None:
        response = {
            "id": str(
                _first(attrs, "gen_ai.response.id", "ai.response.id") or f"otel-{span.span_id}"
            ),
            "object": "chat.completion",
            "created": decoded.start_ns // 1_000_000_000,
            "model": answered_by or model,
            "choices": [
                {
                    "index": 0,
                    "message": message or {"role": "assistant", "content": None},
                    "finish_reason": reason,
                }
            ],
        }
        if span.usage is not None:
            response["usage"] = {
                "prompt_tokens": span.usage.prompt_tokens,
                "completion_tokens": span.usage.completion_tokens,
                "total_tokens": span.usage.total_tokens,
            }
    failed = span.status == "error"
    first_chunk = _first_chunk_ms(attrs, decoded.events)
    status_code = _int(attrs.get("http.response.status_code"))
    metadata = TraceMetadata(
        status="error" if failed else "success",
        status_code=status_code if status_code is not None else (0 if failed else 200),
        latency_ms=span.duration_ms,
        streaming=bool(request.get("stream")),
        first_chunk_latency_ms=first_chunk,
        usage=span.usage,
        error=TraceError(
            type=str(attrs.get("error.type") or "span_error"),
            message=span.status_message or "the span's status is error",
        )
        if failed
        else None,
        warnings=[
            f"recorded from OpenTelemetry span {span.span_id} of run {span.trace_id} "
            "(received on /v1/traces), not through the proxy"
        ],
    )
    trace = Trace(
        id=new_trace_id(),
        timestamp=iso_from_ns(decoded.start_ns),
        provider=span.provider or "unknown",
        model=model,
        endpoint="/v1/chat/completions",
        request=request,
        response=response,
        metadata=metadata,
        response_model=answered_by,
        session_id=span.session_id,
    )
    trace.metadata.cost_usd = cost_usd(trace)
    return trace
