"""Retries of provider calls, with tenacity: exponential backoff with jitter, ``Retry-After``
honoured, stopped at once by the call's `Signal`.

What is retried (`is_retryable`): connection errors (the builtin `ConnectionError` anywhere
in the exception's cause chain, the SDKs' ``APIConnectionError``, httpx's ``ConnectError``,
aiohttp's ``ClientConnectionError``, and a `ProviderError` without a status, which the
backends raise when no answer came), `RateLimited` (429), `Overloaded` (503, 529, Anthropic's
``overloaded_error``), `Timeout`s (408, 504, or an SDK's own connect/read timeout; when the
call's ``Signal.timeout`` is what fired, the signal stops the retries) and any other 5xx
`ProviderError`. Never retried: `BadRequest`, `AuthenticationFailed`, `Cancelled`, other 4xx,
and everything else.

Streams are retried only until they are open: the backends wrap ``retry_call`` around
opening the stream (sending the request, reading the status and headers), never around
iterating it, so a stream that has yielded its first event is never replayed and the caller
never sees a token twice. An error after that ends the stream with an ``error`` event.

Waits: attempt ``n`` (1-based) failing waits ``min(max_s, initial_s * 2 ** (n - 1))`` seconds,
with jitter a uniform draw from the upper half of that ("equal jitter", so a retry never comes
at once), and never less than the error's ``retry_after_s``: a provider's ``Retry-After`` is
obeyed even when it is longer than ``max_s`` (bound the whole call with `Signal.timeout`).

Reference: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from traceforge import errors
from traceforge.signal import Signal

__all__ = ["RetryPolicy", "backoff_s", "is_retryable", "retry_call"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: Exception class names (anywhere in the MRO) that mean "no connection / connection lost",
#: so that this module needs no import of the SDKs or their HTTP clients.
_CONNECTION_ERROR_NAMES = frozenset(
    {
        "APIConnectionError",  # openai, anthropic (APITimeoutError is a subclass)
        "ConnectError",  # httpx
        "RemoteProtocolError",  # httpx: server closed the connection before answering
        "ClientConnectionError",  # aiohttp (google-genai's async transport)
        "ServerDisconnectedError",  # aiohttp
    }
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry.

    Attributes:
        max_attempts: attempts in all, the first included (1: no retry).
        initial_s: the wait after the first failure, in seconds (before jitter).
        max_s: the longest backoff, in seconds (a longer ``Retry-After`` still wins).
        jitter: draw each wait from the upper half of the backoff (True) or wait exactly
            the backoff (False).
    """

    max_attempts: int = 3
    initial_s: float = 0.5
    max_s: float = 20.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.initial_s < 0 or self.max_s < 0:
            raise ValueError("initial_s and max_s must not be negative")


def _is_connection_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError):
            return True
        if any(cls.__name__ in _CONNECTION_ERROR_NAMES for cls in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt may be retried (see the module docstring for the rules)."""
    if isinstance(exc, errors.Cancelled | errors.BadRequest | errors.AuthenticationFailed):
        return False
    if isinstance(exc, errors.RateLimited | errors.Overloaded | errors.Timeout):
        return True
    if isinstance(exc, errors.ProviderError):
        return exc.status is None or exc.status >= 500
    status = getattr(exc, "status_code", None)  # an SDK's status error not mapped yet
    if isinstance(status, int):
        return status == 429 or status >= 500
    return _is_connection_error(exc)


def backoff_s(policy: RetryPolicy, failed_attempts: int, retry_after_s: float | None) -> float:
    """The wait in seconds after ``failed_attempts`` failures (1 after the first)."""
    base = min(policy.max_s, policy.initial_s * 2 ** max(0, failed_attempts - 1))
    wait = random.uniform(base / 2, base) if policy.jitter else base
    return max(wait, retry_after_s or 0.0)


async def _sleep_unless_aborted(seconds: float, signal: Signal) -> None:
    """Sleep ``seconds``; raise the signal's reason as soon as it aborts."""
    signal.raise_if_aborted()
    waiter = asyncio.ensure_future(signal.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    if done:
        signal.raise_if_aborted()


async def retry_call(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy | None = None,
    *,
    signal: Signal,
) -> T:
    """Await ``fn()`` until it succeeds, retrying failures `is_retryable` allows, at most
    ``policy.max_attempts`` attempts in all.

    Args:
        fn: makes one attempt (a fresh awaitable per call).
        policy: the retry policy (default ``RetryPolicy()``).
        signal: stops everything: checked before each attempt and during each wait.

    Returns:
        What the successful attempt returned.

    Raises:
        BaseException: the signal's reason (`Cancelled`, `Timeout`, ...) when it aborts
            before an attempt, during a wait, or after a retryable failure; else the last
            attempt's exception when it is not retryable or attempts ran out (the original
            exception, never tenacity's ``RetryError``).
    """
    policy = policy or RetryPolicy()

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        retry_after = exc.retry_after_s if isinstance(exc, errors.ProviderError) else None
        return backoff_s(policy, state.attempt_number, retry_after)

    def stop(state: RetryCallState) -> bool:
        return signal.aborted or stop_after_attempt(policy.max_attempts)(state)

    def log_retry(state: RetryCallState) -> None:
        outcome = state.outcome
        _log.info(
            "attempt %d failed (%r); retrying in %.2f s",
            state.attempt_number,
            outcome.exception() if outcome is not None else None,
            state.next_action.sleep if state.next_action is not None else 0.0,
        )

    async def sleep(seconds: float) -> None:
        await _sleep_unless_aborted(seconds, signal)

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop,
        wait=wait,
        sleep=sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                signal.raise_if_aborted()
                return await fn()
    except Exception as exc:
        # Stopped retrying because the signal aborted: say so, not the last attempt's error.
        reason = signal.reason
        if reason is not None and exc is not reason and is_retryable(exc):
            raise reason from exc
        raise
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
