"""Client-side rate limits per provider, with aiolimiter's leaky buckets: requests per minute and
tokens per minute, so that a batch of calls waits on this side instead of collecting 429s.

```python
limiter_for("openai", RateLimits(requests_per_minute=600, tokens_per_minute=200_000))
await acquire("openai", tokens=estimated_prompt_tokens)   # waits for capacity, then returns
```

Requests are spread evenly: ``requests_per_minute=600`` lets one request through every 0.1 s
(a bucket of ``burst`` requests, 1 by default), because providers enforce per-minute limits over
shorter windows too (OpenAI: "60 RPM may be enforced as 1 request per second"). Tokens use a
one-minute bucket of ``tokens_per_minute`` (a call asking for more than the whole bucket waits
for an empty bucket and takes all of it).

Buckets belong to one event loop (aiolimiter warns when one is reused across loops): each
`ProviderLimiter` keeps one pair per running loop, so calls in different loops (each
``stream_sync`` call runs its own) do not share a budget.

Reference: https://aiolimiter.readthedocs.io/ ; OpenAI rate limits,
https://platform.openai.com/docs/guides/rate-limits
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

__all__ = ["ProviderLimiter", "RateLimits", "acquire", "clear_limiters", "limiter_for"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Limits for one provider; None means unlimited.

    Attributes:
        requests_per_minute: requests started per minute (> 0).
        tokens_per_minute: tokens (as counted by callers of `acquire`) per minute (> 0).
        burst: requests let through back to back before the even spacing applies (>= 1).
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    burst: int = 1

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None, got {value}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")


class ProviderLimiter:
    """The buckets of one provider under its `RateLimits`."""

    def __init__(self, provider: str, limits: RateLimits) -> None:
        self.provider = provider
        self.limits = limits
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[AsyncLimiter | None, AsyncLimiter | None]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ProviderLimiter({self.provider!r}, {self.limits!r})"

    def _buckets(self) -> tuple[AsyncLimiter | None, AsyncLimiter | None]:
        loop = asyncio.get_running_loop()
        with self._lock:
            buckets = self._per_loop.get(loop)
            if buckets is None:
                limits = self.limits
                requests = None
                if limits.requests_per_minute is not None:
                    requests = AsyncLimiter(
                        limits.burst, 60.0 * limits.burst / limits.requests_per_minute
                    )
                tokens = None
                if limits.tokens_per_minute is not None:
                    tokens = AsyncLimiter(limits.tokens_per_minute, 60.0)
                buckets = self._per_loop[loop] = (requests, tokens)
        return buckets

    async def acquire(self, tokens: float = 1) -> None:
        """Wait until one more request and ``tokens`` more tokens fit, then take them.

        Raises:
            ValueError: ``tokens`` is negative.
        """
        if tokens < 0:
            raise ValueError(f"tokens must not be negative, got {tokens}")
        requests, token_bucket = self._buckets()
        if requests is not None:
            await requests.acquire(1)
        if token_bucket is not None and tokens:
            await token_bucket.acquire(min(tokens, token_bucket.max_rate))


_REGISTRY: dict[str, ProviderLimiter] = {}
_REGISTRY_LOCK = threading.Lock()
_UNLIMITED = RateLimits()


def limiter_for(provider: str, limits: RateLimits | None = None) -> ProviderLimiter:
    """The process-wide limiter of ``provider`` (a name from `traceforge_shared.providers`).

    With ``limits``: set them (a new limiter, fresh buckets, if they differ from the current
    ones). Without: the current limiter, unlimited if none was set.
    """
    with _REGISTRY_LOCK:
        current = _REGISTRY.get(provider)
        if current is None or (limits is not None and limits != current.limits):
            current = _REGISTRY[provider] = ProviderLimiter(provider, limits or _UNLIMITED)
        return current


async def acquire(provider: str, tokens: float = 1) -> None:
    """Wait for ``provider``'s limiter to let one request and ``tokens`` tokens through
    (at once when no limits are set)."""
    await limiter_for(provider).acquire(tokens)


def clear_limiters() -> None:
    """Forget every provider's limits (tests; a reconfiguration)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
