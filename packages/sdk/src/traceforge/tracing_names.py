"""Attribute and header names the SDK's tracing writes, in one place.

Span attributes follow the OpenTelemetry GenAI semantic conventions where a name exists
(https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/ and
https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-agent-spans/); the session uses the
general ``session.id`` attribute (https://opentelemetry.io/docs/specs/semconv/general/session/),
which TraceForge's OTLP ingest reads as the run's session. Names without a convention are
``traceforge.*``.

Request headers are the proxy's grouping headers (docs/runs.md) and W3C Trace Context's
``traceparent`` / ``tracestate`` (https://www.w3.org/TR/trace-context/).
"""

from __future__ import annotations

from typing import Literal, get_args

from traceforge_shared.spans import OPERATION_FOR_KIND

__all__ = [
    "GEN_AI_AGENT_NAME",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_TOOL_NAME",
    "KINDS",
    "META_HEADER_PREFIX",
    "OPENINFERENCE_SPAN_KIND",
    "OPERATION_FOR_KIND",
    "SESSION_HEADER",
    "SESSION_ID",
    "TAGS_HEADER",
    "TRACEFORGE_META_PREFIX",
    "TRACEFORGE_SPAN_KIND",
    "TRACEFORGE_TAGS",
    "Kind",
]

#: What a span does: ``agent`` (an agent's turn or task), ``tool`` (a tool/function call),
#: ``retrieval`` (a search in an index or vector store), ``llm`` (a model call made without
#: the proxy), ``embedding``, ``mcp`` (a Model Context Protocol request), ``chain`` (a step
#: grouping others), ``custom`` (anything else). The same words as
#: :data:`traceforge_shared.spans.SPAN_KINDS`.
Kind = Literal["agent", "tool", "retrieval", "llm", "embedding", "mcp", "chain", "custom"]
KINDS: tuple[str, ...] = get_args(Kind)

#: ``gen_ai.operation.name``: ``invoke_agent``, ``execute_tool``, ``retrieval``, ``chat``,
#: ``embeddings`` (:data:`OPERATION_FOR_KIND`, shared with the OTLP ingest).
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
#: ``gen_ai.agent.name``: the agent's name, on ``invoke_agent`` spans.
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
#: ``gen_ai.tool.name``: the tool's name, on ``execute_tool`` spans.
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
#: ``openinference.span.kind`` (https://github.com/Arize-ai/openinference, spec
#: ``semantic_conventions.md``): set to ``CHAIN`` on chain spans only, the one kind the GenAI
#: conventions have no operation for and the ingest reads from OpenInference.
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
#: ``session.id``: the session (conversation or user) of the span's run.
SESSION_ID = "session.id"

#: ``traceforge.span.kind``: the kind given to ``traceforge.span`` (every span).
TRACEFORGE_SPAN_KIND = "traceforge.span.kind"
#: ``traceforge.tags``: the session's tags (string array).
TRACEFORGE_TAGS = "traceforge.tags"
#: ``traceforge.meta.<key>``: the session's metadata values.
TRACEFORGE_META_PREFIX = "traceforge.meta."

#: Grouping headers the proxy reads and never forwards upstream.
SESSION_HEADER = "X-TraceForge-Session-Id"
TAGS_HEADER = "X-TraceForge-Tags"
META_HEADER_PREFIX = "X-TraceForge-Meta-"
