"""`traceforge.retry`: what is retried, backoff, ``Retry-After`` against a real HTTP upstream
(driven through the official openai SDK), and the signal stopping everything."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import openai
import pytest
from aiohttp import web

from traceforge import retry
from traceforge.errors import (
    AuthenticationFailed,
    BadRequest,
    Cancelled,
    Overloaded,
    ProviderError,
    RateLimited,
    Timeout,
    from_status,
)
from traceforge.retry import RetryPolicy, backoff_s, is_retryable, retry_call
from traceforge.signal import AbortController, Signal

FAST = RetryPolicy(max_attempts=3, initial_s=0.0, jitter=False)

_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


@dataclass
class Upstream:
    """A fake OpenAI upstream answering from a script of statuses; logs request times."""

    url: str
    script: list[int]
    times: list[float] = field(default_factory=list)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream(url="", script=[])

    async def chat(request: web.Request) -> web.Response:
        state.times.append(time.monotonic())
        status = state.script.pop(0) if state.script else 200
        if status == 200:
            return web.json_response(_COMPLETION)
        body = {"error": {"message": f"status {status}", "type": "rate_limit_exceeded"}}
        return web.json_response(body, status=status, headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}/v1"
    yield state
    await runner.cleanup()


def _call(client: openai.AsyncOpenAI) -> Callable[[], Awaitable[str]]:
    """One attempt: a chat completion, SDK status errors mapped as the backends do."""

    async def attempt() -> str:
        try:
            completion = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
        except openai.APIStatusError as exc:
            raise from_status(
                "openai", exc.status_code, exc.body, dict(exc.response.headers)
            ) from exc
        return completion.choices[0].message.content or ""

    return attempt


def test_exports_are_sorted() -> None:
    assert retry.__all__ == sorted(retry.__all__)


async def test_429_429_200_with_retry_after_succeeds_after_two_waits(upstream: Upstream) -> None:
    """Done when: 429, 429, 200 with ``Retry-After: 1`` succeeds after two waits."""
    upstream.script = [429, 429, 200]
    async with openai.AsyncOpenAI(base_url=upstream.url, api_key="k", max_retries=0) as client:
        text = await retry_call(
            _call(client), RetryPolicy(initial_s=0.05), signal=Signal.timeout(60)
        )
    assert text == "hello"
    assert len(upstream.times) == 3
    gaps = [b - a for a, b in zip(upstream.times, upstream.times[1:], strict=False)]
    # Each wait honours Retry-After: 1 s (the backoff alone would be <= 0.1 s); generous top.
    assert all(0.95 <= gap < 10 for gap in gaps), gaps


async def test_attempts_run_out_and_the_last_error_is_raised(upstream: Upstream) -> None:
    upstream.script = [503, 500, 429]
    async with openai.AsyncOpenAI(base_url=upstream.url, api_key="k", max_retries=0) as client:
        policy = RetryPolicy(max_attempts=2, initial_s=0.0)
        with pytest.raises(ProviderError) as caught:
            # Retry-After: 1 applies to the one wait.
            await retry_call(_call(client), policy, signal=Signal.never())
    assert type(caught.value) is ProviderError
    assert caught.value.status == 500
    assert len(upstream.times) == 2


async def test_a_real_connection_error_is_retried() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    attempts = 0
    async with openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0
    ) as client:
        inner = _call(client)

        async def attempt() -> str:
            nonlocal attempts
            attempts += 1
            return await inner()

        with pytest.raises(openai.APIConnectionError):
            await retry_call(attempt, FAST, signal=Signal.never())
    assert attempts == 3


class _Script:
    """``fn`` for retry_call: raises the scripted exceptions in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.parametrize(
    "error",
    [
        BadRequest("bad", status=400),
        AuthenticationFailed("key", status=401),
        Cancelled("stop"),
        ProviderError("conflict", status=409),
        ValueError("a bug"),
    ],
)
async def test_never_retried(error: BaseException) -> None:
    fn = _Script(error)
    with pytest.raises(type(error)):
        await retry_call(fn, FAST, signal=Signal.never())
    assert fn.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", status=429),
        Overloaded("busy", status=529),
        Overloaded("busy"),
        Timeout("gateway", status=504),
        Timeout("the SDK's read timeout"),
        ProviderError("oops", status=502),
        ProviderError("no answer"),
        ConnectionResetError("reset"),
    ],
)
async def test_retried(error: BaseException) -> None:
    fn = _Script(error, error)
    assert await retry_call(fn, FAST, signal=Signal.never()) == "ok"
    assert fn.calls == 3


def test_is_retryable_on_foreign_exceptions() -> None:
    class StatusError(Exception):
        def __init__(self, status_code: int) -> None:
            self.status_code = status_code

    assert is_retryable(StatusError(429))
    assert is_retryable(StatusError(500))
    assert not is_retryable(StatusError(400))
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = ConnectionRefusedError()
    assert is_retryable(wrapped)

    class APIConnectionError(Exception):  # the SDKs' name
        pass

    assert is_retryable(APIConnectionError())
    assert not is_retryable(RuntimeError("plain"))


def test_backoff() -> None:
    policy = RetryPolicy(initial_s=0.5, max_s=3, jitter=False)
    assert [backoff_s(policy, n, None) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]
    assert backoff_s(policy, 1, 7.0) == 7.0  # Retry-After wins, even past max_s
    jittered = RetryPolicy(initial_s=1, max_s=100)
    for _ in range(50):
        assert 2 <= backoff_s(jittered, 3, None) <= 4
        assert backoff_s(jittered, 1, 2.5) == 2.5


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(initial_s=-1)


async def test_an_aborted_signal_means_no_attempt() -> None:
    controller = AbortController()
    controller.abort()
    fn = _Script()
    with pytest.raises(Cancelled):
        await retry_call(fn, FAST, signal=controller.signal)
    assert fn.calls == 0


async def test_abort_during_a_wait_stops_at_once() -> None:
    controller = AbortController()
    fn = _Script(RateLimited("slow", status=429, retry_after_s=1000))
    asyncio.get_running_loop().call_later(0.05, controller.abort, Cancelled("user"))
    with pytest.raises(Cancelled, match="user"):
        await retry_call(fn, FAST, signal=controller.signal)
    assert fn.calls == 1


async def test_a_retryable_failure_after_abort_raises_the_reason() -> None:
    controller = AbortController()

    async def fn() -> str:
        controller.abort(Cancelled("mid-attempt"))
        raise ConnectionResetError("reset")

    with pytest.raises(Cancelled, match="mid-attempt") as caught:
        await retry_call(fn, FAST, signal=controller.signal)
    assert isinstance(caught.value.__cause__, ConnectionResetError)


async def test_the_signal_timeout_stops_retrying_timeouts() -> None:
    signal = Signal.timeout(0)
    fn = _Script()
    with pytest.raises(Timeout, match="after 0 s"):
        await retry_call(fn, FAST, signal=signal)
    assert fn.calls == 0


async def test_default_policy() -> None:
    fn = _Script()
    assert await retry_call(fn, signal=Signal.never()) == "ok"
