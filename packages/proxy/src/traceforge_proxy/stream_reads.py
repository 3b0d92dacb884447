"""A relayed stream kept as the upstream's reads, framed into events later.

On the raw relay (the client gets the upstream's bytes untouched) nothing on the event loop
needs the stream's events while it flows, unless a ``chunk`` hook listens: framing each read
into SSE events or NDJSON lines there was a fifth of the proxy's busy time on long streams
(docs/performance.md). So the raw relay keeps each read whole with its arrival time
(:class:`StreamReads`), and :func:`frame_reads` frames them when the trace is built (in the
writer), exactly as the relay would have: each event gets the time of the read that
completed it; the events the relay would not have kept (no data; for a provider's own format
also blank data) are dropped.

A stream that may reach ``proxy.chunk_cap`` events is framed on the loop from then on (its
tail is merged there, :mod:`~traceforge_proxy.stream_tail`): every event needs at least one
line end, so the line ends counted in the reads bound the events they hold.
"""

from __future__ import annotations

import array
from dataclasses import dataclass, field

from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.plan import Framing
from traceforge_proxy.sse import SSEEvent, SSEParser

#: The warning of a stream that ended inside an event.
UNTERMINATED = "the stream ended inside an event (no blank line or newline after it)"


@dataclass
class StreamReads:
    """The reads of one stream as they arrived (``data`` bytes, ``ns``
    ``perf_counter_ns`` times packed ``array('q')``), and the line ends they hold."""

    framing: Framing
    data: list[bytes] = field(default_factory=list)
    ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    line_ends: int = 0

    def add(self, data: bytes, now_ns: int) -> int:
        """Keep one read that arrived at ``now_ns``; the line ends kept so far (a bound on
        the events they complete)."""
        self.data.append(data)
        self.ns.append(now_ns)
        self.line_ends += data.count(b"\n") + data.count(b"\r")
        return self.line_ends


@dataclass
class FramedStream:
    """What :func:`frame_reads` made of a stream's reads: the kept events' data, their times
    (``array('q')`` of ``perf_counter_ns``), their ``event:`` names by index, and whether the
    stream ended inside an event."""

    data: list[bytes]
    ns: array.array[int]
    events: dict[int, str]
    unterminated: bool = False


def new_parser(framing: Framing) -> SSEParser | NDJSONParser:
    """The incremental parser for ``framing`` (``sse`` or ``ndjson``)."""
    return NDJSONParser() if framing == "ndjson" else SSEParser()


def frame_reads(
    framing: Framing,
    reads: list[bytes],
    ns: array.array[int],
    *,
    native: bool,
    closed_ns: int | None,
) -> FramedStream:
    """Frame a stream's ``reads`` (arrived at ``ns``) into the events the raw relay keeps:
    those with data, and for a provider's own format (``native``) with more than blanks.
    ``closed_ns``: when the stream ended (the bytes after the last event then make one more,
    timed then); ``None``: it broke off, and what followed the last whole event is dropped."""
    parser = new_parser(framing)
    out = FramedStream([], array.array("q"), {})

    def keep(events: list[SSEEvent], at: int) -> None:
        for event in events:
            data = event.data
            if data is None or (native and not data.strip()):
                continue
            if event.event is not None:
                out.events[len(out.data)] = event.event
            out.data.append(data)
            out.ns.append(at)

    for data, at in zip(reads, ns, strict=True):
        keep(parser.feed(data), at)
    if closed_ns is not None:
        rest = parser.close()
        out.unterminated = any(event.data for event in rest)
        keep(rest, closed_ns)
    return out
