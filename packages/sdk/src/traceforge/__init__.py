"""TraceForge SDK: one streaming client for every LLM provider, with a required cancellation
`Signal` on every call, one error hierarchy, retries (`traceforge.retry`) and client-side rate
limits (`traceforge.limits`).

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
    "Signal",
    "Timeout",
    "TokenCounter",
]
