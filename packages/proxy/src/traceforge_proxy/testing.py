"""Helpers for tests that drive the proxy (shipped in the package, like mitmproxy's
``test/tflow.py``, so every TraceForge package's tests can use them)."""

from __future__ import annotations

import asyncio

from traceforge_proxy.mock_upstream import transcript_events
from traceforge_proxy.runner import ProxyService
from traceforge_shared.trace import Trace


async def saved_traces(service: ProxyService, expected: int = 1) -> list[Trace]:
    """Wait for the writer, then return every trace in the store, oldest first."""
    assert await asyncio.to_thread(service.writer.drain, 10.0)
    summaries = service.store.list(limit=None)
    assert len(summaries) == expected, [s.status for s in summaries]
    return [service.store.get(s.id) for s in reversed(summaries)]


def transcript_body(name: str, *, include_usage: bool) -> bytes:
    """The bytes the mock upstream sends for a transcript (usage chunk only if asked for)."""
    return b"".join(
        raw for raw, usage_only in transcript_events(name) if include_usage or not usage_only
    )
