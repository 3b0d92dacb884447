"""Recorded calls and stored spans as OpenTelemetry GenAI spans: pure mapping, no OTel package.

:func:`span_of_trace` turns a saved (redacted) :class:`~traceforge_shared.trace.Trace` into an
:class:`ExportSpan`: name ``{gen_ai.operation.name} {gen_ai.request.model}``, kind CLIENT,
times from the trace's timestamp and ``latency_ms``, the run's ids from its span context (the
``traceparent`` the app sent, so the exported tree matches the app's own spans), attributes
named by :mod:`traceforge_shared.otel.export_names` (GenAI spans:
https://github.com/open-telemetry/semantic-conventions-genai/blob/main/docs/gen-ai/gen-ai-spans.md).
:func:`span_of_stored` does the same for a span received over OTLP or written by the SDK.

Content (``gen_ai.input.messages`` / ``gen_ai.output.messages``, JSON in the conventions'
message schema: ``[{"role": "user", "parts": [{"type": "text", "content": "..."}]}]``) is
added only when asked for, and only from the stored, already redacted trace.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from traceforge_shared.otel import export_names as n
from traceforge_shared.otel.export_names import SemconvNames
from traceforge_shared.providers import PROVIDER_SPECS
from traceforge_shared.spans import (
    OPERATION_FOR_KIND,
    Span,
    is_span_id,
    is_trace_id,
    kind_of_endpoint,
    ns_from_iso,
)
from traceforge_shared.trace import Trace, Usage

__all__ = ["ExportEvent", "ExportSpan", "span_of_stored", "span_of_trace"]

#: Attribute keys that carry message content (every naming generation), left out unless
#: content capture is on.
_CONTENT_PREFIXES = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "llm.input_messages",
    "llm.output_messages",
    "input.value",
    "output.value",
    "ai.prompt",
    "ai.response.text",
    "ai.response.toolCalls",
)
_CONTENT_EVENTS = ("gen_ai.user.message", "gen_ai.system.message", "gen_ai.assistant.message")
_CONTENT_EVENTS_ALSO = ("gen_ai.tool.message", "gen_ai.choice", "gen_ai.client.inference")


@dataclass(frozen=True)
class ExportEvent:
    """A span event: ``name``, ``time_ns`` (Unix epoch ns), ``attributes``."""

    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ExportSpan:
    """One span to export, in OTLP terms.

    Attributes:
        trace_id: 32 lower-case hex digits.
        span_id: 16 lower-case hex digits.
        parent_span_id: the parent's span id, ``None`` for a root.
        name: the span name (``chat gpt-4o-mini``).
        client: kind CLIENT (an outgoing call to a provider) rather than INTERNAL.
        start_ns: start, Unix epoch nanoseconds.
        end_ns: end, Unix epoch nanoseconds.
        attributes: OTel attribute values: str, bool, int, float or lists of one of them.
        error: whether the span's status is ERROR.
        ok: whether it is OK (neither: UNSET).
        status_message: the error's description.
        events: span events.
        duration_s: for the duration histogram: the call's duration in seconds (``None``:
            no metric, e.g. a span that is not an LLM call).
        first_chunk_s: for the time-to-first-chunk histogram, seconds (streams only).
        metric_attributes: the attributes the metrics are recorded with.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    client: bool
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    error: bool
    ok: bool
    status_message: str | None = None
    events: tuple[ExportEvent, ...] = ()
    duration_s: float | None = None
    first_chunk_s: float | None = None
    metric_attributes: dict[str, Any] = field(default_factory=dict)


def _derived_ids(trace_id: str) -> tuple[str, str]:
    """A run id and span id made from a TraceForge trace id, the same every time (a trace
    recorded without a span context exports under the same ids on every backfill)."""
    digest = hashlib.sha256(f"traceforge:{trace_id}".encode()).hexdigest()
    return digest[:32], digest[32:48]


def _provider_value(provider: str) -> str:
    spec = PROVIDER_SPECS.get(provider)
    return spec.otel_name if spec is not None else provider


def _usage_attributes(usage: Usage | None, names: SemconvNames) -> dict[str, Any]:
    if usage is None:
        return {}
    out: dict[str, Any] = {
        n.INPUT_TOKENS: usage.prompt_tokens,
        n.OUTPUT_TOKENS: usage.completion_tokens,
    }
    if usage.cache_read_tokens:
        out[names.cache_read_tokens] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        out[names.cache_write_tokens] = usage.cache_write_tokens
    if usage.reasoning_tokens and names.reasoning_tokens is not None:
        out[names.reasoning_tokens] = usage.reasoning_tokens
    return out


def _choices(trace: Trace) -> list[dict[str, Any]]:
    response = trace.response
    if not isinstance(response, dict):
        return []
    choices = response.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _finish_reasons(trace: Trace) -> list[str]:
    return [str(c["finish_reason"]) for c in _choices(trace) if c.get("finish_reason")]


def _text_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append({"type": "text", "content": part["text"]})
            elif part.get("type"):
                parts.append({"type": str(part["type"])})
    return parts


def _tool_call_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        found = call.get("function")
        function: dict[str, Any] = found if isinstance(found, dict) else {}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": function.get("arguments"),
            }
        )
    return parts


def _message(message: dict[str, Any]) -> dict[str, Any]:
    role = str(message.get("role") or "user")
    if role == "tool":
        part = {
            "type": "tool_call_response",
            "id": message.get("tool_call_id"),
            "response": message.get("content"),
        }
        return {"role": "tool", "parts": [part]}
    return {"role": role, "parts": _text_parts(message.get("content")) + _tool_call_parts(message)}


def _content_attributes(trace: Trace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    request = trace.request
    messages = request.get("messages") if isinstance(request, dict) else None
    if isinstance(messages, list):
        inputs = [_message(m) for m in messages if isinstance(m, dict)]
        out[n.INPUT_MESSAGES] = json.dumps(inputs, ensure_ascii=False)
    outputs = []
    for choice in _choices(trace):
        message = choice.get("message")
        if isinstance(message, dict):
            entry = _message({**message, "role": message.get("role") or "assistant"})
            entry["finish_reason"] = choice.get("finish_reason") or ""
            outputs.append(entry)
    if outputs:
        out[n.OUTPUT_MESSAGES] = json.dumps(outputs, ensure_ascii=False)
    return out


def _server(url: str | None) -> dict[str, Any]:
    if not url:
        return {}
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return {}
    out: dict[str, Any] = {}
    if parts.hostname:
        out[n.SERVER_ADDRESS] = parts.hostname
        if port is not None:
            out[n.SERVER_PORT] = port
    return out


def _error_type(trace: Trace) -> str | None:
    meta = trace.metadata
    if meta.status == "success":
        return None
    if meta.error is not None and meta.error.type:
        return meta.error.type
    if meta.status_code >= 400:
        return str(meta.status_code)
    return meta.status or "_OTHER"


def span_of_trace(trace: Trace, names: SemconvNames, *, capture_content: bool) -> ExportSpan:
    """The GenAI CLIENT span of one recorded call.

    Args:
        trace: the stored (redacted) trace.
        names: the naming generation (:data:`~traceforge_shared.otel.export_names.V0_1` or
            ``LEGACY``).
        capture_content: add the request's and the answer's messages as
            ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (JSON strings).

    Raises:
        ValueError: the trace's timestamp is not ISO 8601.
    """
    meta = trace.metadata
    operation = OPERATION_FOR_KIND[kind_of_endpoint(trace.endpoint)]
    context = trace.span
    if context is not None and is_trace_id(context.trace_id) and is_span_id(context.span_id):
        trace_id, span_id, parent = context.trace_id, context.span_id, context.parent_span_id
    else:
        (trace_id, span_id), parent = _derived_ids(trace.id), None
    start_ns = ns_from_iso(trace.timestamp)
    end_ns = start_ns + max(0, int(meta.latency_ms * 1e6))
    common: dict[str, Any] = {
        n.OPERATION: operation,
        names.provider: _provider_value(trace.provider),
        **_server(meta.upstream_url),
    }
    if trace.model:
        common[n.REQUEST_MODEL] = trace.model
    if trace.response_model:
        common[n.RESPONSE_MODEL] = trace.response_model
    error_type = _error_type(trace)
    if error_type is not None:
        common[n.ERROR_TYPE] = error_type
    attributes: dict[str, Any] = {**common, **_usage_attributes(meta.usage, names)}
    reasons = _finish_reasons(trace)
    if reasons:
        attributes[n.FINISH_REASONS] = reasons
    response = trace.response
    if isinstance(response, dict) and isinstance(response.get("id"), str):
        attributes[n.RESPONSE_ID] = response["id"]
    if trace.session_id:
        attributes[n.CONVERSATION_ID] = trace.session_id
    attributes["http.response.status_code"] = meta.status_code
    attributes["traceforge.trace_id"] = trace.id
    if trace.tags:
        attributes["traceforge.tags"] = list(trace.tags)
    for key, value in trace.meta.items():
        attributes[f"traceforge.meta.{key}"] = value
    if meta.cost_usd is not None:
        attributes["traceforge.cost_usd"] = meta.cost_usd
    if capture_content:
        attributes.update(_content_attributes(trace))
    first_chunk = meta.first_chunk_latency_ms if meta.streaming else None
    return ExportSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=f"{operation} {trace.model}".strip(),
        client=True,
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=attributes,
        error=error_type is not None,
        ok=error_type is None,
        status_message=meta.error.message if meta.error is not None else None,
        duration_s=meta.latency_ms / 1000,
        first_chunk_s=None if first_chunk is None else first_chunk / 1000,
        metric_attributes=common,
    )


def _is_content(key: str) -> bool:
    return key.startswith(_CONTENT_PREFIXES)


def _otel_value(value: Any) -> Any:
    """An attribute value OTLP can carry: scalars and homogeneous lists as they are, anything
    else (dicts, mixed lists, ``None`` inside lists) as JSON text."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list) and value:
        kinds = {type(v) for v in value}
        if len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return list(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def span_of_stored(span: Span, names: SemconvNames, *, capture_content: bool) -> ExportSpan:
    """A stored span (received over OTLP or written by the SDK) as it is exported: its own
    attributes (content ones only with ``capture_content``), the provider, model and usage
    under ``names``, CLIENT for LLM and embedding spans, INTERNAL for the rest."""
    attributes: dict[str, Any] = {
        key: _otel_value(value)
        for key, value in span.attributes.items()
        if value is not None and (capture_content or not _is_content(key))
    }
    llm = span.kind in ("llm", "embedding")
    operation = OPERATION_FOR_KIND.get(span.kind)
    if operation is not None:
        attributes.setdefault(n.OPERATION, operation)
    if span.provider:
        for old in ("gen_ai.system", "gen_ai.provider.name"):
            attributes.pop(old, None)
        attributes[names.provider] = _provider_value(span.provider)
    if span.model:
        attributes.setdefault(n.REQUEST_MODEL, span.model)
    for old in (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
    ):
        attributes.pop(old, None)
    attributes.update(_usage_attributes(span.usage, names))
    if span.session_id:
        attributes.setdefault(n.CONVERSATION_ID, span.session_id)
    if span.tags:
        attributes["traceforge.tags"] = list(span.tags)
    if span.trace_ref:
        attributes["traceforge.trace_id"] = span.trace_ref
    if span.cost_usd is not None:
        attributes["traceforge.cost_usd"] = span.cost_usd
    events = tuple(
        ExportEvent(
            e.name,
            e.time_ns,
            {k: _otel_value(v) for k, v in e.attributes.items() if v is not None},
        )
        for e in span.events
        if capture_content or not e.name.startswith(_CONTENT_EVENTS + _CONTENT_EVENTS_ALSO)
    )
    metric_attributes = {
        k: attributes[k]
        for k in (n.OPERATION, names.provider, n.REQUEST_MODEL, n.RESPONSE_MODEL, n.ERROR_TYPE)
        if k in attributes
    }
    return ExportSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        client=llm,
        start_ns=span.start_ns,
        end_ns=span.end_ns,
        attributes=attributes,
        error=span.status == "error",
        ok=span.status == "ok",
        status_message=span.status_message,
        events=events,
        duration_s=span.duration_ms / 1000 if llm else None,
        metric_attributes=metric_attributes,
    )
