"""Relaying an upstream answer to the client, without sockets.

A relay is fed the upstream's reads (:meth:`Relay.feed`, with the time each arrived) and
returns the bytes to write to the client now; :meth:`Relay.close` at the end of the stream
returns the last ones. It frames the stream (SSE or NDJSON) and records each event in the
:class:`~traceforge_proxy.exchange.Exchange`. One class per relay mode:

- :class:`RawRelay`: the upstream's bytes as read, untouched.
- :class:`WithholdUsageRelay`: the same, minus the usage-only chunk the proxy asked for on
  the client's behalf (``stream_options.include_usage``); whole events are written.
- :class:`ConvertRelay`: OpenAI ``chat.completion.chunk`` SSE events converted from the
  provider's events, then the usage chunk (if the client asked) and ``data: [DONE]``. After a
  provider error in the stream it stops (:attr:`Relay.done`): the client got the error.

:func:`converted_answer` is the non-stream twin of :class:`ConvertRelay`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from traceforge_proxy.exchange import Exchange, decode_json
from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.plan import ForwardingPlan, Framing, ProxyAnswer, provider_error, proxy_error
from traceforge_proxy.providers.responses_stream import ResponsesStreamConverter
from traceforge_proxy.sse import SSEEvent, SSEParser
from traceforge_proxy.stream_reads import UNTERMINATED, new_parser

_encode = msgspec.json.encode

#: End of an OpenAI stream.
DONE = b"data: [DONE]\n\n"


def sse(payload: Mapping[str, Any]) -> bytes:
    """One SSE event (``data: <json>`` and a blank line) carrying ``payload``."""
    return b"data: " + _encode(payload) + b"\n\n"


def named_sse(payload: Mapping[str, Any]) -> bytes:
    """One SSE event named after the payload's ``type`` (``event: <type>``, ``data:
    <json>``, a blank line), as the Responses API streams its events."""
    return b"event: " + str(payload.get("type")).encode() + b"\n" + sse(payload)


class Relay:
    """Frames one stream and records its events; subclasses decide what the client gets.

    Args:
        exchange: where events are recorded (its stream is marked started).
        framing: ``sse`` or ``ndjson``.
    """

    def __init__(self, exchange: Exchange, framing: Framing) -> None:
        self.exchange = exchange
        self._parser: SSEParser | NDJSONParser = new_parser(framing)
        #: No more input is wanted (the convert relay after a provider error).
        self.done = False

    def feed(self, data: bytes, now_ns: int) -> bytes:
        """Take one upstream read that arrived at ``now_ns``; return the bytes to write now
        (possibly empty)."""
        raise NotImplementedError

    def close(self, now_ns: int) -> bytes:
        """The upstream's stream ended at ``now_ns``: return the last bytes to write."""
        rest = self._parser.close()
        if any(ev.data for ev in rest):
            self.exchange.warnings.append(UNTERMINATED)
        return self._last(rest, now_ns)

    def _last(self, rest: list[SSEEvent], now_ns: int) -> bytes:
        raise NotImplementedError


class RawRelay(Relay):
    """Writes the upstream's bytes as read; records OpenAI chunks (or, on passthrough chat
    calls, the provider's events and their OpenAI view).

    With ``keep_reads`` the events are not framed on the loop: the exchange keeps each read
    whole and the trace's builder frames them (:mod:`~traceforge_proxy.stream_reads`); from
    the read that may complete ``chunk_cap`` events on, they are framed here as usual."""

    def __init__(self, exchange: Exchange, framing: Framing, *, keep_reads: bool = False) -> None:
        super().__init__(exchange, framing)
        self._keeping_reads = keep_reads
        if keep_reads:
            exchange.keep_reads(framing)

    def feed(self, data: bytes, now_ns: int) -> bytes:
        if self._keeping_reads:
            if self.exchange.add_read(data, now_ns):
                return data
            self._frame_kept_reads(data, now_ns)
            return data
        self._record(self._parser.feed(data), now_ns)
        return data

    def close(self, now_ns: int) -> bytes:
        if self._keeping_reads:
            self.exchange.reads_closed(now_ns)
            return b""  # written as read; the builder frames the last event
        return super().close(now_ns)

    def _frame_kept_reads(self, data: bytes, now_ns: int) -> None:
        """Frame the reads kept so far here (``data``, read at ``now_ns``, is the last of
        them, or the only one when the exchange framed the others itself) and go on event by
        event."""
        self._keeping_reads = False
        reads = self.exchange.take_reads()
        if reads is None:
            self._record(self._parser.feed(data), now_ns)
            return
        for read, at in zip(reads.data, reads.ns, strict=True):
            self._record(self._parser.feed(read), at)

    def _last(self, rest: list[SSEEvent], now_ns: int) -> bytes:
        self._record(rest, now_ns)
        return b""  # the tail was written as it was read

    def _record(self, events: list[SSEEvent], now_ns: int) -> None:
        exchange = self.exchange
        if exchange.adapter is not None:
            for ev in events:
                exchange.add_native_event(ev, now_ns)
        else:
            for ev in events:
                exchange.add_event(ev, now_ns, withhold_usage_chunk=False)


class WithholdUsageRelay(Relay):
    """Writes each whole event as received, except the usage-only chunk."""

    def feed(self, data: bytes, now_ns: int) -> bytes:
        return self._kept(self._parser.feed(data), now_ns)

    def _last(self, rest: list[SSEEvent], now_ns: int) -> bytes:
        return self._kept(rest, now_ns)

    def _kept(self, events: list[SSEEvent], now_ns: int) -> bytes:
        add = self.exchange.add_event
        return b"".join(ev.raw for ev in events if not add(ev, now_ns, withhold_usage_chunk=True))


class ConvertRelay(Relay):
    """Writes OpenAI chunks converted from the provider's events (the exchange's
    converter), then the usage chunk and ``[DONE]``; stops after a provider error. For a
    Responses call (a :class:`~traceforge_proxy.providers.responses_stream.
    ResponsesStreamConverter`) the events are named (``event: response.created``) and no
    ``[DONE]`` follows, as OpenAI streams them."""

    def __init__(self, exchange: Exchange, framing: Framing) -> None:
        super().__init__(exchange, framing)
        named = isinstance(exchange.converter, ResponsesStreamConverter)
        self._frame = named_sse if named else sse
        self._end = b"" if named else DONE

    def feed(self, data: bytes, now_ns: int) -> bytes:
        if self.done:
            return b""
        return self._converted(self._parser.feed(data), now_ns)

    def close(self, now_ns: int) -> bytes:
        if self.done:  # the provider's error ended the stream for the client
            return b""
        return super().close(now_ns)

    def _last(self, rest: list[SSEEvent], now_ns: int) -> bytes:
        out = self._converted(rest, now_ns)
        if self.done:
            return out
        chunks = self.exchange.close_native_stream()
        return out + b"".join(self._frame(c) for c in chunks) + self._end

    def _converted(self, events: list[SSEEvent], now_ns: int) -> bytes:
        exchange = self.exchange
        converter = exchange.converter
        out: list[bytes] = []
        for ev in events:
            out.extend(self._frame(chunk) for chunk in exchange.add_native_event(ev, now_ns))
            if converter is not None and converter.error is not None:
                self.done = True  # later events are neither sent nor recorded
                break
        return b"".join(out)


def start_relay(
    plan: ForwardingPlan,
    exchange: Exchange,
    framing: Framing,
    status: int,
    created: int,
    *,
    keep_reads: bool = False,
) -> Relay:
    """Start relaying a stream answer (``status``, ``created`` epoch seconds) as ``plan``
    says: marks the exchange's stream started, with the converter the converted route
    needs. ``keep_reads``: a raw relay keeps the reads for the builder to frame (no
    ``chunk`` hook listens; see :class:`RawRelay`)."""
    target = plan.target
    adapter = target.adapter
    model = target.model if target.model is not None else exchange.model
    if plan.mode == "convert":
        assert adapter is not None
        converter = adapter.stream_converter(
            model=model, created=created, include_usage=plan.include_usage
        )
        exchange.stream_started(converter)
        return ConvertRelay(exchange, framing)
    # Passthrough: the OpenAI view of the provider's events is made when the trace is built.
    exchange.stream_started(None, native=adapter is not None)
    if plan.mode == "withhold_usage":
        return WithholdUsageRelay(exchange, framing)
    return RawRelay(exchange, framing, keep_reads=keep_reads)


def converted_answer(plan: ForwardingPlan, status: int, body: bytes, created: int) -> ProxyAnswer:
    """Converted route, whole answer: the provider's body (``status``) turned into an OpenAI
    ``chat.completion`` (``created`` epoch seconds), its error into OpenAI's error shape, or
    — when the adapter cannot read it — the proxy's 502 ``unconvertible_response``."""
    adapter = plan.target.adapter
    assert adapter is not None
    answer = decode_json(body)
    if status >= 400:
        error = provider_error(adapter.convert_error(status, answer))
        return ProxyAnswer(
            error.status, error.body, converted=error.converted, keeps_upstream_body=True
        )
    model = plan.target.model or ""
    try:
        converted = adapter.convert_response(answer, model=model, created=created)
    except Exception as exc:  # the provider sent what its adapter cannot read
        provider = plan.target.provider
        return proxy_error(
            502,
            "unconvertible_response",
            f"{provider} answered in a shape TraceForge cannot convert: {exc}",
            warnings=(f"could not convert the provider's answer: {exc!r}",),
        )
    return ProxyAnswer(
        status,
        json.dumps(converted).encode(),
        "application/json; charset=utf-8",
        converted=converted,
        keeps_upstream_body=True,
    )
