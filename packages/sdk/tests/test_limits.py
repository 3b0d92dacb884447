"""`traceforge.limits`: per-provider request and token buckets; 50 concurrent calls under a
10-per-second limit, checked from a fake upstream's request log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from traceforge import limits
from traceforge.limits import RateLimits, acquire, clear_limiters, limiter_for


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    clear_limiters()
    yield
    clear_limiters()


@dataclass
class Upstream:
    url: str
    times: list[float] = field(default_factory=list)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream(url="")

    async def handle(request: web.Request) -> web.Response:
        state.times.append(time.monotonic())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}/v1/chat/completions"
    yield state
    await runner.cleanup()


def test_exports_are_sorted() -> None:
    assert limits.__all__ == sorted(limits.__all__)


async def test_fifty_calls_at_ten_per_second_spread_over_about_five_seconds(
    upstream: Upstream,
) -> None:
    """Done when: 50 concurrent calls under a 10-per-second limiter spread over ~5 s."""
    limiter_for("openai", RateLimits(requests_per_minute=600))

    async def call(session: aiohttp.ClientSession) -> None:
        await acquire("openai")
        async with session.post(upstream.url, json={"model": "m"}) as response:
            assert response.status == 200

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(call(session) for _ in range(50)))
    assert len(upstream.times) == 50
    spread = max(upstream.times) - min(upstream.times)
    assert 4.0 <= spread <= 6.5, spread


async def test_no_limits_means_no_wait() -> None:
    limiter = limiter_for("anthropic")
    assert limiter.limits == RateLimits()
    for _ in range(1000):
        await acquire("anthropic", tokens=10**9)


def test_the_registry_keeps_one_limiter_per_provider() -> None:
    first = limiter_for("gemini", RateLimits(requests_per_minute=60))
    assert limiter_for("gemini") is first
    assert limiter_for("gemini", RateLimits(requests_per_minute=60)) is first
    second = limiter_for("gemini", RateLimits(requests_per_minute=120))
    assert second is not first
    assert limiter_for("gemini") is second
    assert limiter_for("ollama") is not second
    assert "gemini" in repr(second)


async def test_tokens_per_minute_bucket() -> None:
    limiter = limiter_for("cohere", RateLimits(tokens_per_minute=100))
    await limiter.acquire(60)
    await limiter.acquire(40)
    _, tokens = limiter._buckets()
    assert tokens is not None
    assert not tokens.has_capacity(1)


async def test_a_call_larger_than_the_bucket_takes_all_of_it() -> None:
    limiter = limiter_for("xai", RateLimits(tokens_per_minute=100))
    await limiter.acquire(10_000)  # no ValueError from aiolimiter
    _, tokens = limiter._buckets()
    assert tokens is not None
    assert not tokens.has_capacity(1)


async def test_burst() -> None:
    limiter = limiter_for("openai", RateLimits(requests_per_minute=60, burst=3))
    for _ in range(3):
        await limiter.acquire()
    requests, _ = limiter._buckets()
    assert requests is not None
    assert not requests.has_capacity(1)


def test_buckets_are_per_event_loop() -> None:
    """Reusing an aiolimiter bucket across loops warns (an error under our pytest config)."""
    limiter = limiter_for("openai", RateLimits(requests_per_minute=60))
    asyncio.run(limiter.acquire())
    asyncio.run(limiter.acquire())  # a fresh bucket in the new loop: no wait, no warning


def test_validation() -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        RateLimits(requests_per_minute=0)
    with pytest.raises(ValueError, match="tokens_per_minute"):
        RateLimits(tokens_per_minute=-5)
    with pytest.raises(ValueError, match="burst"):
        RateLimits(burst=0)


async def test_negative_tokens() -> None:
    with pytest.raises(ValueError, match="negative"):
        await acquire("openai", tokens=-1)
