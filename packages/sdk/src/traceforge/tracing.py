"""Tracing: an agent's steps, tool calls and LLM calls as one tree (a *run*) in TraceForge.

- :func:`span` / :func:`trace`: the application's own spans (``agent``, ``tool``,
  ``retrieval``, ``llm``, ``chain``, ``custom``), OpenTelemetry spans with the GenAI
  conventions' names (:mod:`traceforge.tracing_spans`);
- :func:`session`: the session (conversation, user) of everything inside
  (:mod:`traceforge.tracing_session`);
- :func:`instrument` (openai, anthropic clients), :func:`instrument_httpx`,
  :func:`httpx_hook`, :func:`async_httpx_hook`: calls through the proxy carry ``traceparent``
  and the session headers, so the proxy records them as children of the current span
  (:mod:`traceforge.tracing_headers`);
- :func:`configure` / :func:`flush`: where spans go, by default the local TraceForge's OTLP
  endpoint (``http://127.0.0.1:3001/v1/traces``), or the application's own tracer provider
  (:mod:`traceforge.tracing_setup`).

See docs/sdk.md, "Tracing".
"""

from __future__ import annotations

from traceforge.tracing_headers import (
    async_httpx_hook,
    grouping_headers,
    httpx_hook,
    instrument,
    instrument_httpx,
)
from traceforge.tracing_names import KINDS, Kind
from traceforge.tracing_session import Session, current_session, session
from traceforge.tracing_setup import configure, flush
from traceforge.tracing_spans import span, trace

__all__ = [
    "KINDS",
    "Kind",
    "Session",
    "async_httpx_hook",
    "configure",
    "current_session",
    "flush",
    "grouping_headers",
    "httpx_hook",
    "instrument",
    "instrument_httpx",
    "session",
    "span",
    "trace",
]
