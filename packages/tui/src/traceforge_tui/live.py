"""Calls in flight, read from the running proxy's ``GET /_traceforge/events`` stream.

The proxy (``traceforge start``) publishes ``started``, ``chunk``, ``finished`` and ``saved``
server-sent events (the wire contract is documented in the proxy's ``traceforge_proxy.live``
module; the TUI never imports the proxy). :func:`read_events` reads them with httpx;
:class:`LiveCalls` keeps what they say, one :class:`LiveCall` per call. The streamed text in
them was redacted by the proxy before it was published.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from traceforge_shared.config import ProxyConfig

#: The proxy's event stream path (``traceforge_proxy.live.EVENTS_PATH``).
EVENTS_PATH = "/_traceforge/events"
#: Seconds to wait for the proxy to accept the connection.
CONNECT_TIMEOUT_S = 2.0


def events_url(proxy: ProxyConfig) -> str:
    """The event stream URL of a proxy configured as ``proxy`` (an any-address bind is
    reached on loopback): ``http://127.0.0.1:8787/_traceforge/events``."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(proxy.host, proxy.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{proxy.port}{EVENTS_PATH}"


async def read_events(
    url: str, client: httpx.AsyncClient | None = None
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Yield ``(event name, data)`` for each server-sent event of ``url`` until the stream
    ends (https://html.spec.whatwg.org/multipage/server-sent-events.html: ``event:`` and
    ``data:`` lines, a blank line ends an event; comments and events whose data is not a
    JSON object are skipped).

    Raises:
        httpx.HTTPError: the proxy cannot be reached, answers other than 200, or the
            connection breaks.
    """
    timeout = httpx.Timeout(CONNECT_TIMEOUT_S, read=None)
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout, trust_env=False)
    try:
        async with http.stream("GET", url, timeout=timeout) as response:
            response.raise_for_status()
            name, data = "message", list[str]()
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue
                if not line:
                    if data:
                        try:
                            decoded = json.loads("\n".join(data))
                        except ValueError:
                            decoded = None
                        if isinstance(decoded, dict):
                            yield name, decoded
                    name, data = "message", []
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
    finally:
        if own:
            await http.aclose()


@dataclass
class LiveCall:
    """One call in flight, as the proxy's events describe it.

    Attributes:
        id: the trace id the call will be saved as.
        provider, model, endpoint: what the call is.
        timestamp: when it started (ISO 8601, UTC).
        session_id, tags, route, source: its session (``X-TraceForge-Session-Id``), tags
            (``X-TraceForge-Tags``), route (``openai``, ``converted``, ``passthrough``) and
            source (``X-TraceForge-Meta-Source``), when the ``started`` event carries them
            (``session_id``, ``tags``, ``route``, ``source``); ``None``/``()``: not announced.
        chunks: stream chunks received so far.
        tokens: output tokens so far, estimated (4 characters a token).
        tail: the end of the text streamed so far, redacted by the proxy.
        status_code: the HTTP status once finished (``None`` while in flight).
        error: the proxy's error type when the call failed.
        finished: the call ended (its trace is being saved).
        saved: the trace is in the store.
        version: bumped by every change (views redraw when it moves).
        saved_at: the list's poll count when the ``saved`` event came.
    """

    id: str
    provider: str = ""
    model: str = ""
    endpoint: str = ""
    timestamp: str = ""
    session_id: str | None = None
    tags: tuple[str, ...] = ()
    route: str | None = None
    source: str | None = None
    chunks: int = 0
    tokens: int = 0
    tail: str = ""
    status_code: int | None = None
    error: str | None = None
    finished: bool = False
    saved: bool = False
    version: int = 0
    saved_at: int = 0

    @property
    def status(self) -> str:
        """``…streaming`` (chunks arrived), ``…waiting`` (none yet), ``finished 200``,
        ``failed <error>``, or ``saved``."""
        if self.saved:
            return "saved"
        if self.finished:
            if self.error:
                return f"failed {self.error}"
            return f"finished {self.status_code}"
        return "…streaming" if self.chunks else "…waiting"


class LiveCalls:
    """The calls in flight: :meth:`apply` each event; a saved call stays until the list shows
    its trace (:meth:`drop_saved`)."""

    def __init__(self) -> None:
        self.calls: dict[str, LiveCall] = {}

    def apply(self, name: str, data: dict[str, Any]) -> LiveCall | None:
        """Update the calls with one event; return the call it was about (``None`` for an
        event without a string ``id``, or a ``saved`` one of a call not seen)."""
        trace_id = data.get("id")
        if not isinstance(trace_id, str):
            return None
        call = self.calls.get(trace_id)
        if call is None:
            if name == "saved":
                return None
            call = self.calls[trace_id] = LiveCall(trace_id)
        if name == "started":
            call.provider = str(data.get("provider") or "")
            call.model = str(data.get("model") or "")
            call.endpoint = str(data.get("endpoint") or "")
            call.timestamp = str(data.get("timestamp") or "")
            call.session_id = _text(data.get("session_id"))
            call.route = _text(data.get("route"))
            call.source = _text(data.get("source"))
            tags = data.get("tags")
            if isinstance(tags, list):
                call.tags = tuple(tag for tag in tags if isinstance(tag, str) and tag)
        if name in ("chunk", "finished"):
            call.chunks = _int(data.get("chunks"), call.chunks)
            call.tokens = _int(data.get("tokens"), call.tokens)
            tail = data.get("tail")
            if isinstance(tail, str):
                call.tail = tail
        if name == "finished":
            call.finished = True
            call.status_code = _int(data.get("status_code"), 0)
            error = data.get("error")
            call.error = error if isinstance(error, str) else None
        if name == "saved":
            call.saved = True
        call.version += 1
        return call

    def drop_saved(self, before: int) -> list[str]:
        """Remove the saved calls whose ``saved`` event came before list poll ``before``
        started (that poll shows their trace); return their ids."""
        gone = [c.id for c in self.calls.values() if c.saved and c.saved_at < before]
        for trace_id in gone:
            del self.calls[trace_id]
        return gone

    def clear(self) -> None:
        """Forget every call (the proxy went away: its calls will not be announced)."""
        self.calls.clear()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
