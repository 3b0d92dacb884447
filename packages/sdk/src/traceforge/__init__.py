"""TraceForge SDK: one streaming client for every LLM provider, with a required cancellation
`Signal` on every call, one error hierarchy, retries (`traceforge.retry`) and client-side rate
limits (`traceforge.limits`), and tracing (`traceforge.tracing`: ``span``, ``trace``,
``session``, ``instrument``, ``configure``), which puts an agent's steps and its LLM calls
into one run in TraceForge.

The provider layer is `traceforge.providers` (``get_provider``, ``StreamRequest``, ...); it is
imported on its own so that ``import traceforge`` does not load the provider SDKs.
"""

from __future__ import annotations

from traceforge.errors import (
    AuthenticationFailed,
    BadRequest,
    Cancelled,
    Overloaded,
    ProviderError,
    RateLimited,
    Timeout,
)
from traceforge.limits import RateLimits
from traceforge.retry import RetryPolicy
from traceforge.signal import AbortController, Signal, TokenCounter
from traceforge.tracing import (
    Session,
    async_httpx_hook,
    configure,
    current_session,
    flush,
    grouping_headers,
    httpx_hook,
    instrument,
    instrument_httpx,
    session,
    span,
    trace,
)

__all__ = [
    "AbortController",
    "AuthenticationFailed",
    "BadRequest",
    "Cancelled",
    "Overloaded",
    "ProviderError",
    "RateLimited",
    "RateLimits",
    "RetryPolicy",
    "Session",
    "Signal",
    "Timeout",
    "TokenCounter",
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
