"""A sample agent run for tests of the run and session views (CLI, web API, TUI).

:func:`save_agent_run` stores a run the way an instrumented app produces one: the app's own
spans (an agent turn, a tool call) written through
:meth:`traceforge_shared.store.spans.SpanStore.write`, and two LLM calls recorded as traces
whose span context (:class:`~traceforge_shared.trace.SpanContext`, what the proxy records from
a ``traceparent`` header) makes them children of the agent span, so the store derives their
spans itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from traceforge_shared.spans import Span
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import SpanContext

#: 2026-11-23T08:00:00Z, the sample runs' default start.
RUN_EPOCH = 1795420800.0

_NS = 1_000_000_000


def _hex(digits: int) -> str:
    return os.urandom(digits // 2).hex()


@dataclass(frozen=True)
class SampleRun:
    """What :func:`save_agent_run` stored.

    Attributes:
        trace_id: the run id (32 hex).
        root_span_id: the agent span's id.
        tool_span_id: the tool span's id.
        call_ids: the trace ids of the two recorded LLM calls, in order.
        call_span_ids: their span ids.
    """

    trace_id: str
    root_span_id: str
    tool_span_id: str
    call_ids: tuple[str, str]
    call_span_ids: tuple[str, str]


def save_agent_run(
    store: TraceStore,
    *,
    epoch_s: float = RUN_EPOCH,
    session_id: str | None = None,
    name: str = "invoke_agent weather",
    tool_failed: bool = False,
    trace_id: str | None = None,
) -> SampleRun:
    """Store a 2 s agent run starting at ``epoch_s`` (Unix seconds): the agent span (root),
    an LLM call (0.1-0.9 s, 10→5 tokens, $0.00042), a ``get_weather`` tool call
    (0.95-1.2 s, status ``error`` when ``tool_failed``) and a second LLM call
    (1.25-1.95 s, $0.00042).

    Returns:
        The ids of what was stored.
    """
    run = trace_id or _hex(32)
    root, tool = _hex(16), _hex(16)
    start = int(epoch_s * _NS)
    calls: list[str] = []
    call_spans: list[str] = []
    for offset_s in (0.1, 1.25):
        trace = make_trace(epoch_s=epoch_s + offset_s, latency_ms=800.0 if offset_s < 1 else 700.0)
        span_id = _hex(16)
        trace.span = SpanContext(trace_id=run, span_id=span_id, parent_span_id=root)
        trace.session_id = session_id
        trace.metadata.cost_usd = 0.00042
        store.save(trace)
        calls.append(trace.id)
        call_spans.append(span_id)
    store.spans.write(
        [
            Span(
                trace_id=run,
                span_id=root,
                name=name,
                kind="agent",
                start_ns=start,
                end_ns=start + 2 * _NS,
                status="error" if tool_failed else "ok",
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "weather",
                },
                session_id=session_id,
                source="sdk",
            ),
            Span(
                trace_id=run,
                span_id=tool,
                parent_span_id=root,
                name="execute_tool get_weather",
                kind="tool",
                start_ns=start + int(0.95 * _NS),
                end_ns=start + int(1.2 * _NS),
                status="error" if tool_failed else "ok",
                status_message="city not found" if tool_failed else None,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "get_weather",
                },
                session_id=session_id,
                source="sdk",
            ),
        ]
    )
    return SampleRun(run, root, tool, (calls[0], calls[1]), (call_spans[0], call_spans[1]))
