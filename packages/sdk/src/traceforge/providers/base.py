"""`Provider`: the one interface every backend implements, and the streaming loop they share.

A backend (``openai_backend.py``, ...) supplies four things: ``_open`` (start the call with
its official SDK, return the SDK's stream and how to close it), a converter (the SDK's stream
items → `StreamEvent`s), ``_map_error`` (the SDK's exceptions → `traceforge.errors`) and
optionally ``_fetch_models``. This module does the rest, the same way for all of them:

- the signal is watched around every await; when it aborts, the pending read is cancelled,
  the SDK's stream (so its HTTP response) is closed at once, and nothing more is yielded;
- a task cancelled while iterating (``task.cancel()``, ``asyncio.timeout``) closes the stream
  too, in ``finally``;
- retries (`traceforge.retry.retry_call`) cover opening the stream *and reading its first
  item* only: once an item has arrived nothing is retried, so no event is ever yielded twice;
- rate limits (`traceforge.limits`), when given, are acquired before opening.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from traceforge.client_config import Endpoint
from traceforge.errors import ProviderError
from traceforge.limits import RateLimits, limiter_for
from traceforge.providers import events
from traceforge.retry import RetryPolicy, retry_call
from traceforge.signal import AbortController, Signal
from traceforge_shared.providers import ProviderSpec

__all__ = [
    "Converter",
    "DoneConverter",
    "OpenedStream",
    "Provider",
    "list_model_ids",
    "make_usage",
    "model_field",
    "open_stream",
]

T = TypeVar("T")

_END: Any = object()  # the stream had no (more) items


class _Aborted(Exception):
    """Internal: the signal aborted while we waited."""


async def _abortable(awaitable: Awaitable[T], signal: Signal) -> T:
    """Await ``awaitable`` in its own task, cancelled as soon as ``signal`` aborts.

    Raises:
        _Aborted: the signal aborted first (the task was cancelled).
        asyncio.CancelledError: the calling task itself was cancelled.
    """
    if signal.aborted:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise _Aborted
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(awaitable)

    def on_abort() -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: the task is gone already
            loop.call_soon_threadsafe(task.cancel)

    remove = signal.add_callback(on_abort)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if signal.aborted and task.cancelled() and (current is None or not current.cancelling()):
            raise _Aborted from None
        raise
    finally:
        remove()


#: Modules of the HTTP stacks under the SDKs: their errors mean the connection failed.
_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "aiohttp", "h11")


def _is_transport_error(exc: BaseException) -> bool:
    """A failure of the connection itself (no answer, or the answer cut short)."""
    if isinstance(exc, OSError):
        return True
    module = type(exc).__module__.partition(".")[0]
    return module in _TRANSPORT_MODULES


@dataclass
class OpenedStream:
    """A started call: the SDK's stream of items and how to close it.

    Attributes:
        items: the SDK's async iterator (chunks, events, responses).
        close: closes the SDK's stream and its HTTP response (idempotent, never raises).
        first: the first item, read while opening (`_END`-like sentinel when there was none).
    """

    items: AsyncIterator[Any]
    close: Callable[[], Awaitable[None]]
    first: Any = _END


class Converter(ABC):
    """Turns one call's SDK stream items into `StreamEvent`s (one instance per call)."""

    @abstractmethod
    def feed(self, item: Any) -> list[events.StreamEvent]:
        """The events of one SDK item, in order (may be none)."""

    @abstractmethod
    def end(self) -> list[events.StreamEvent]:
        """The events after the last item: a `DoneEvent` (or an `ErrorEvent`)."""


def _usage_total(prompt: int | None, completion: int | None) -> int | None:
    if prompt is None and completion is None:
        return None
    return (prompt or 0) + (completion or 0)


def make_usage(
    prompt: int | None,
    completion: int | None,
    total: int | None = None,
    cached: int | None = None,
    reasoning: int | None = None,
) -> events.Usage:
    """A `Usage`; ``total`` defaults to prompt + completion when either is known."""
    return events.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else _usage_total(prompt, completion),
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )


def model_field(obj: Any, name: str) -> Any:
    """An attribute of an SDK model, extra (undeclared) fields included."""
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, dict):
            value = extra.get(name)
    return value


class DoneConverter(Converter):
    """A `Converter` that keeps the call's finish reason and usage as it goes, ends with
    their `DoneEvent`, and numbers whole tool calls (`whole_call`)."""

    def __init__(self) -> None:
        self.calls = 0
        self.finish_reason: str | None = None
        self.usage = events.Usage()

    def whole_call(
        self, call_id: str | None, name: str | None, arguments: str
    ) -> events.ToolCallEvent:
        """A tool call that arrives whole, as the next index (``call_<index>`` when no id)."""
        index = self.calls
        self.calls += 1
        return events.ToolCallEvent(
            id=call_id or f"call_{index}", name=name, arguments_delta=arguments, index=index
        )

    def end(self) -> list[events.StreamEvent]:
        return [events.DoneEvent(self.finish_reason, self.usage)]


async def list_model_ids(client: Any) -> list[str]:
    """The ids of ``client.models.list()`` (the ``openai`` and ``anthropic`` SDKs' clients),
    then closes the client."""
    try:
        return [model.id async for model in client.models.list()]
    finally:
        await client.close()


async def open_stream(
    start: Callable[[], Awaitable[Any]],
    close_client: Callable[[], Awaitable[Any]],
    *,
    close_method: str = "aclose",
) -> OpenedStream:
    """Start an SDK stream with ``start``; on failure the client is closed
    (``close_client``). The `OpenedStream`'s ``close`` closes the stream (its
    ``close_method``, when it has one), then the client."""
    try:
        stream = await start()
    except BaseException:
        await close_client()
        raise

    async def close() -> None:
        try:
            close_stream = getattr(stream, close_method, None)
            if close_stream is not None:
                await close_stream()
        finally:
            await close_client()

    return OpenedStream(items=stream.__aiter__(), close=close)


class Provider(ABC):
    """One provider, reached through its official SDK.

    Build one with `traceforge.providers.get_provider`. Every call takes a **required**
    ``signal`` (`traceforge.Signal`; `Signal.never()` when nothing should stop it).

    Attributes:
        spec: the provider's registry entry (``traceforge_shared.providers``).
        endpoint: where calls go (`traceforge.client_config.Endpoint`).
    """

    def __init__(
        self,
        spec: ProviderSpec,
        endpoint: Endpoint,
        *,
        retry: RetryPolicy | None = None,
        limits: RateLimits | None = None,
    ) -> None:
        self.spec = spec
        self.endpoint = endpoint
        self._retry = retry
        self._limits = limits

    def __repr__(self) -> str:
        via = " via proxy" if self.endpoint.via_proxy else ""
        return f"<{type(self).__name__} {self.name} {self.endpoint.base_url}{via}>"

    def _sdk_options(self) -> dict[str, Any]:
        """The key, base URL and no SDK retries (`traceforge.retry` does them), as most SDK
        clients take them."""
        return {
            "api_key": self.endpoint.api_key or "traceforge-no-key",  # SDKs refuse no key
            "base_url": self.endpoint.base_url,
            "max_retries": 0,
        }

    @property
    def name(self) -> str:
        """The provider's registry name (``openai``, ``anthropic``, ...)."""
        return self.spec.name

    # ------------------------------------------------------------------ backend hooks

    @abstractmethod
    async def _open(self, request: events.StreamRequest) -> OpenedStream:
        """Start the call with the SDK (streaming) and return its stream, unread."""

    @abstractmethod
    def _converter(self, request: events.StreamRequest) -> Converter:
        """A fresh converter for one call."""

    @abstractmethod
    def _map_error(self, exc: Exception) -> ProviderError | None:
        """The `ProviderError` for an SDK exception, or None when it is not the SDK's."""

    async def _fetch_models(self) -> list[str]:
        """The model ids of the provider's models endpoint (default: none available)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the call

    def _as_provider_error(self, exc: Exception) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        mapped = self._map_error(exc)
        if mapped is None and _is_transport_error(exc):
            mapped = ProviderError(f"connection failed: {exc!r}", provider=self.name)
        if mapped is None:
            raise exc
        mapped.__cause__ = exc
        return mapped

    async def _start(self, request: events.StreamRequest) -> OpenedStream:
        """Open the stream and read its first item; SDK errors become `ProviderError`s."""
        try:
            opened = await self._open(request)
            try:
                opened.first = await anext(opened.items)
            except StopAsyncIteration:
                opened.first = _END
            except BaseException:
                await opened.close()
                raise
        except Exception as exc:
            raise self._as_provider_error(exc) from exc
        return opened

    async def _open_with_retries(
        self, request: events.StreamRequest, signal: Signal
    ) -> OpenedStream:
        async def attempt() -> OpenedStream:
            return await _abortable(self._start(request), signal)

        if self._retry is None:
            return await attempt()
        opened: OpenedStream = await retry_call(attempt, self._retry, signal=signal)
        return opened

    async def _acquire(self, request: events.StreamRequest, signal: Signal) -> None:
        """Wait for the provider's rate limiter (`traceforge.limits`; process-wide, set with
        ``limits=`` or `traceforge.limits.limiter_for`): one request, and ``max_tokens`` (at
        least 1) as the token estimate."""
        limiter = limiter_for(self.name, self._limits) if self._limits else limiter_for(self.name)
        tokens = max(1, request.max_tokens or 1)
        await _abortable(limiter.acquire(tokens), signal)

    async def stream(
        self, request: events.StreamRequest, *, signal: Signal
    ) -> AsyncGenerator[events.StreamEvent, None]:
        """Stream one call's events (see `traceforge.providers.events`).

        Ends with exactly one `DoneEvent` or `ErrorEvent`, unless ``signal`` aborts: then the
        HTTP stream is closed at once and the iterator stops, yielding nothing more (check
        ``signal.reason`` to tell why). Retries happen only before the first event.

        Args:
            request: what to ask.
            signal: required; aborting it stops the call (`traceforge.Signal`).

        Raises:
            ValueError: ``request`` has neither prompt nor messages.
            asyncio.CancelledError: the consuming task was cancelled (the stream is closed).
        """
        request.conversation()  # ValueError early, before any I/O
        try:
            await self._acquire(request, signal)
            opened = await self._open_with_retries(request, signal)
        except _Aborted:
            return
        except ProviderError as error:
            if not signal.aborted:
                yield events.ErrorEvent(error)
            return
        converter = self._converter(request)
        try:
            item = opened.first
            while item is not _END:
                for event in converter.feed(item):
                    if signal.aborted:
                        return
                    yield event
                try:
                    item = await _abortable(anext(opened.items), signal)
                except StopAsyncIteration:
                    item = _END
            for event in converter.end():
                if signal.aborted:
                    return
                yield event
        except _Aborted:
            return
        except Exception as exc:
            if signal.aborted:
                return
            yield events.ErrorEvent(self._as_provider_error(exc))
        finally:
            await opened.close()

    async def generate(
        self, request: events.StreamRequest, *, signal: Signal
    ) -> events.GenerateResult:
        """The whole answer, built from `stream`.

        Raises:
            ProviderError: the stream's `ErrorEvent` error.
            BaseException: the signal's reason (`Cancelled`, `Timeout`, ...) when it aborted.
            ValueError: ``request`` has neither prompt nor messages.
        """
        text: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, list[Any]] = {}
        done: events.DoneEvent | None = None
        async with contextlib.aclosing(self.stream(request, signal=signal)) as stream:
            async for event in stream:
                if isinstance(event, events.TokenEvent):
                    text.append(event.text)
                elif isinstance(event, events.ReasoningEvent):
                    reasoning.append(event.text)
                elif isinstance(event, events.ToolCallEvent):
                    call = calls.setdefault(event.index, [None, None, []])
                    call[0] = call[0] or event.id
                    call[1] = call[1] or event.name
                    call[2].append(event.arguments_delta)
                elif isinstance(event, events.ErrorEvent):
                    raise event.error
                else:
                    done = event
        if done is None:
            signal.raise_if_aborted()
            raise ProviderError("the stream ended without a done event", provider=self.name)
        return events.GenerateResult(
            text="".join(text),
            tool_calls=[
                events.ToolCall(id=c[0], name=c[1], arguments="".join(c[2]))
                for _, c in sorted(calls.items())
            ],
            reasoning="".join(reasoning),
            finish_reason=done.finish_reason,
            usage=done.usage,
        )

    # ------------------------------------------------------------------ sync twins

    def stream_sync(
        self, request: events.StreamRequest, *, signal: Signal
    ) -> Iterator[events.StreamEvent]:
        """`stream` for code without an event loop: the call runs on an event loop in a
        worker thread; events are handed over as they arrive. Closing the iterator early
        (``break``) aborts the call and closes its stream."""
        request.conversation()
        out: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = AbortController()
        merged = Signal.merge(signal, stop.signal)

        async def pump() -> None:
            async with contextlib.aclosing(self.stream(request, signal=merged)) as stream:
                async for event in stream:
                    out.put(("event", event))

        def run() -> None:
            try:
                asyncio.run(pump())
            except BaseException as exc:
                out.put(("raise", exc))
            else:
                out.put(("end", None))

        worker = threading.Thread(target=run, name=f"traceforge-{self.name}", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = out.get()
                if kind == "event":
                    yield value
                elif kind == "raise":
                    raise value
                else:
                    return
        finally:
            stop.abort()
            worker.join()

    def generate_sync(
        self, request: events.StreamRequest, *, signal: Signal
    ) -> events.GenerateResult:
        """`generate` for code without an event loop (runs one in a worker thread); raises
        as `generate` does."""
        result: list[events.GenerateResult] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                result.append(asyncio.run(self.generate(request, signal=signal)))
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=run, name=f"traceforge-{self.name}", daemon=True)
        worker.start()
        worker.join()
        if errors:
            raise errors[0]
        return result[0]

    # ------------------------------------------------------------------ models

    async def available_models(self, *, signal: Signal) -> list[str]:
        """The provider's model ids, from its models endpoint (OpenAI-format ``GET
        /models``, Anthropic ``GET /v1/models``, Gemini ``models.list``, Ollama ``GET
        /api/tags``, Cohere ``GET /v1/models``), sorted; when that endpoint fails or the
        backend has none, the registry's model globs for the provider (``gpt-*``, ...).

        Raises:
            BaseException: the signal's reason, when it aborted.
        """
        try:
            models = await _abortable(self._fetch_models(), signal)
        except _Aborted:
            signal.raise_if_aborted()
            raise
        except NotImplementedError:
            return list(self.spec.model_globs)
        except Exception as exc:
            if self._map_error(exc) is None and not isinstance(exc, ProviderError | OSError):
                raise
            return list(self.spec.model_globs)
        return sorted(models)

    def serves(self, model: str) -> bool:
        """Whether ``model`` matches the provider's registry globs (case-insensitive)."""
        return any(fnmatch.fnmatch(model.lower(), glob.lower()) for glob in self.spec.model_globs)
