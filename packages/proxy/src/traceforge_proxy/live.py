"""Calls in flight, published as server-sent events on ``GET /_traceforge/events``.

A UI (the TUI's list) subscribes on the proxy's own port to show each call the moment it
starts, the tail of its streamed text as chunks arrive, and when it ends, without reading
the proxy's memory (the TUI never imports the proxy). The answer is a ``text/event-stream``
(https://html.spec.whatwg.org/multipage/server-sent-events.html) that stays open::

    : connected

    event: started                                    <- also sent on connect, per call open
    data: {"id": "<trace id>", "provider": "openai", "model": "gpt-4o",
           "endpoint": "/v1/chat/completions", "timestamp": "2026-...Z", "route": "openai",
           "session_id": "...", "tags": ["..."], "source": "test"}   <- the last three when
                                                   the request named them (redacted)

    event: chunk                                      <- every ``min_interval_s`` at most
    data: {"id": "...", "chunks": 12, "chars": 240, "tokens": 60, "tail": "...redacted..."}

    event: finished                                   <- the call ended (response or error)
    data: {"id": "...", "status_code": 200, "error": null, "chunks": 40, "chars": 812,
           "tokens": 203, "tail": "..."}

    event: saved                                      <- its trace is in the store
    data: {"id": "..."}

    : keep-alive                                      <- every 15 s without an event

``tail`` is the last :data:`TAIL_CHARS` characters of the text streamed so far, run through
the proxy's :class:`~traceforge_shared.redact.Redactor` first (a window twice as long is
redacted, so a secret cut by the window's start is never in the tail). ``tokens`` is an
estimate: 4 characters a token (:func:`traceforge_shared.token_estimate.approx_tokens`'s
rule), the provider's usage arrives with the saved trace. Requests and headers are never
published (only the grouping headers' session id, tags and ``source`` meta value, redacted,
which the list filters on).

Hot path: with no subscriber, ``request`` and ``response``/``error`` cost a dict insert and
pop, ``chunk`` one truth test; nothing is redacted or encoded. A subscriber that falls
:data:`BUFFER_EVENTS` events behind is closed (it reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from traceforge_shared.redact import Redactor
from traceforge_shared.trace import StreamChunk, Trace, chunk_text

if TYPE_CHECKING:
    from traceforge_proxy.exchange import Exchange

log = logging.getLogger("traceforge.proxy")

#: The path of the event stream on the proxy's port.
EVENTS_PATH = "/_traceforge/events"
#: Characters of redacted streamed text each ``chunk`` event carries.
TAIL_CHARS = 2000
#: Events a subscriber may fall behind before it is closed.
BUFFER_EVENTS = 1024
#: Seconds without an event before a ``: keep-alive`` comment.
KEEPALIVE_S = 15.0
#: Shortest time between two ``chunk`` events of one call, seconds.
MIN_INTERVAL_S = 0.05

_encoder = msgspec.json.Encoder()


@dataclass
class _Call:
    """What is published of one call in flight."""

    started: dict[str, Any]
    window: str = ""
    chunks: int = 0
    chars: int = 0
    last_sent: float = 0.0
    flush: asyncio.TimerHandle | None = None


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


class LiveCalls:
    """Proxy addon: publishes calls in flight on :data:`EVENTS_PATH` (see the module
    docstring for the events).

    Give it to the proxy's flow hooks (``request``, ``chunk``, ``response``, ``error``) and to
    the trace writer (``saved``); :func:`~traceforge_proxy.app.create_proxy_app` serves its
    route (:meth:`register_routes`).

    Args:
        redactor: the redactor the proxy saves traces with (tails are redacted the same way).
        tail_chars: characters of streamed text per ``chunk`` event.
        min_interval_s: shortest time between two ``chunk`` events of one call (seconds);
            the chunks in between are counted, and published when the interval is over.
        buffer: events a subscriber may fall behind before it is closed.
        keepalive_s: seconds without an event before a keep-alive comment.
    """

    #: ``saved`` reads only the trace's head (metadata, grouping, span): a writer process
    #: sends no bodies back.
    saved_head_only = True

    def __init__(
        self,
        redactor: Redactor,
        *,
        tail_chars: int = TAIL_CHARS,
        min_interval_s: float = MIN_INTERVAL_S,
        buffer: int = BUFFER_EVENTS,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.redactor = redactor
        self.tail_chars = tail_chars
        self.min_interval_s = min_interval_s
        self.buffer = buffer
        self.keepalive_s = keepalive_s
        self.calls: dict[str, _Call] = {}
        self._subscribers: set[asyncio.Queue[bytes | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def subscribers(self) -> int:
        """How many clients are connected to the event stream."""
        return len(self._subscribers)

    # -- flow hooks (event loop) -----------------------------------------------------------

    def request(self, flow: Exchange) -> None:
        """A call started: remember it, and announce it to the subscribers."""
        started: dict[str, Any] = {
            "id": flow.trace_id,
            "provider": flow.provider,
            "model": flow.model,
            "endpoint": flow.endpoint,
            "timestamp": flow.timestamp,
            "route": flow.route,
        }
        grouping = flow.grouping
        if grouping is not None:  # what the list filters on; redacted as in the trace
            if grouping.session_id:
                started["session_id"] = self._redacted(grouping.session_id)
            if grouping.tags:
                started["tags"] = [self._redacted(tag) for tag in grouping.tags]
            if source := grouping.meta.get("source"):
                started["source"] = self._redacted(source)
        self.calls[flow.trace_id] = _Call(started)
        if self._subscribers:
            self._publish(_event("started", started))

    def _redacted(self, text: str) -> str:
        return self.redactor.redact_text(text)[0]

    def chunk(self, flow: Exchange, chunk: StreamChunk) -> None:
        """A stream chunk was recorded: count it, keep its text, publish the redacted tail
        (at most every ``min_interval_s``)."""
        if not self._subscribers:
            return
        call = self.calls.get(flow.trace_id)
        if call is None:
            return
        text = chunk_text(chunk)
        call.chunks += 1
        call.chars += len(text)
        if text:
            call.window = (call.window + text)[-2 * self.tail_chars :]
        wait = call.last_sent + self.min_interval_s - time.monotonic()
        if wait > 0:  # counted; published when the interval is over (a stalled stream too)
            if call.flush is None:
                loop = asyncio.get_running_loop()
                call.flush = loop.call_later(wait, self._flush, flow.trace_id)
            return
        self._flush(flow.trace_id)

    def _flush(self, trace_id: str) -> None:
        call = self.calls.get(trace_id)
        if call is None:
            return
        call.flush = None
        call.last_sent = time.monotonic()
        if self._subscribers:
            self._publish(_event("chunk", self._progress(trace_id, call)))

    def response(self, flow: Exchange) -> None:
        """The call ended with an answer: announce it and forget the call."""
        self._finished(flow)

    def error(self, flow: Exchange) -> None:
        """The call failed: announce it and forget the call."""
        self._finished(flow)

    def _finished(self, flow: Exchange) -> None:
        call = self.calls.pop(flow.trace_id, None)
        if call is None:
            return
        if call.flush is not None:
            call.flush.cancel()
        if not self._subscribers:
            return
        data = self._progress(flow.trace_id, call)
        data["status_code"] = flow.status_code
        failure = flow.error
        data["error"] = None if failure is None else failure.type
        self._publish(_event("finished", data))

    def _progress(self, trace_id: str, call: _Call) -> dict[str, Any]:
        redacted, _ = self.redactor.redact_text(call.window)
        return {
            "id": trace_id,
            "chunks": call.chunks,
            "chars": call.chars,
            "tokens": math.ceil(call.chars / 4),
            "tail": redacted[-self.tail_chars :],
        }

    # -- trace hook (writer thread) --------------------------------------------------------

    def saved(self, trace: Trace) -> None:
        """The trace is on disk: tell the subscribers (from the writer's thread, through the
        event loop)."""
        loop = self._loop
        if loop is None or not self._subscribers:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(self._publish, _event("saved", {"id": trace.id}))

    # -- subscribers -----------------------------------------------------------------------

    def _publish(self, event: bytes) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.info("closing a live event subscriber that fell behind")
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    def register_routes(self, router: web.UrlDispatcher) -> None:
        """Serve ``GET`` :data:`EVENTS_PATH` on ``router`` (before the proxy's catch-all
        provider routes)."""
        router.add_get(EVENTS_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /_traceforge/events`` -> ``200 text/event-stream`` until the client goes;
        the calls already in flight are announced first."""
        self._loop = asyncio.get_running_loop()
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.buffer)
        for call in list(self.calls.values())[-self.buffer // 2 :]:
            queue.put_nowait(_event("started", call.started))
        self._subscribers.add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self.keepalive_s)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event is None:
                    break
                await response.write(event)
        except ConnectionError:
            pass  # the subscriber went away
        finally:
            self._subscribers.discard(queue)
        return response
