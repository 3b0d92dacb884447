"""``GET /api/events``: server-sent events announcing each trace as it is saved.

The answer is a ``text/event-stream`` that stays open::

    : connected                      <- the watch is on: every trace saved from now is sent
    retry: 3000

    event: trace
    data: {"id": "...", "timestamp": "...", ...}    <- a TraceSummary as JSON, one line

    event: span
    data: {"trace_id": "...", "span_id": "...", ...}  <- a Span: a call of a run, or OTLP

    event: run
    data: {"trace_id": "...", "span_count": 4, ...}   <- the run's RunSummary after it

    : keep-alive                     <- every 15 s without an event

It ends when the client disconnects (the watcher stops with its last client) or, with no
``event``, when the client fell too far behind: reconnect and reload ``GET /api/traces``.
``503 {"error": ...}`` when the traces directory cannot be watched or too many clients are
connected.
"""

from __future__ import annotations

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from traceforge_web_api.common import ApiError
from traceforge_web_api.feed import FeedEvent, FeedUnavailable, Subscription, TraceFeed

#: ``app.state`` attribute holding the application's :class:`TraceFeed`.
FEED_STATE_KEY = "trace_feed"

#: Seconds without an event after which a ``: keep-alive`` comment is sent.
KEEPALIVE_S = 15.0

#: What the client is told to wait before reconnecting, ms.
RETRY_MS = 3000

_encoder = msgspec.json.Encoder()


class EventStreamResponse(Response):
    """Streams a :class:`Subscription` as server-sent events until the client disconnects;
    always ends the subscription."""

    media_type = "text/event-stream"

    def __init__(self, feed: TraceFeed, subscription: Subscription, keepalive_s: float) -> None:
        # Not Response.__init__: it would declare "content-length: 0" for an endless body.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.feed = feed
        self.subscription = subscription
        self.keepalive_s = keepalive_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_disconnect)
                await self._stream(send)
                group.cancel_scope.cancel()
        except* OSError:  # the client went away while we wrote (ASGI 2.4 servers)
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await self.feed.unsubscribe(self.subscription)

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await self._send(send, f": connected\nretry: {RETRY_MS}\n\n".encode())
        while True:
            with anyio.move_on_after(self.keepalive_s) as waiting:
                summary = await self.subscription.get()
            if waiting.cancelled_caught:
                await self._send(send, b": keep-alive\n\n")
                continue
            if summary is None:
                break
            if isinstance(summary, FeedEvent):
                name, data = summary.event.encode(), _encoder.encode(summary.data)
            else:
                name, data = b"trace", _encoder.encode(summary)
            await self._send(send, b"event: " + name + b"\ndata: " + data + b"\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _send(send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})


async def events(request: Request) -> Response:
    """``GET /api/events`` -> ``200`` ``text/event-stream`` of ``trace`` events (see the module
    docstring); ``503`` when new traces cannot be watched."""
    feed: TraceFeed = getattr(request.app.state, FEED_STATE_KEY)
    if request.method == "HEAD":
        return Response(media_type=EventStreamResponse.media_type)
    try:
        subscription = await feed.subscribe()
    except FeedUnavailable as exc:
        raise ApiError(503, str(exc)) from None
    return EventStreamResponse(feed, subscription, KEEPALIVE_S)


routes: list[BaseRoute] = [
    Route("/api/events", events, methods=["GET"], name="events"),
]
