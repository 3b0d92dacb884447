"""Incremental Server-Sent Events framing (sans-I/O).

Follows the WHATWG HTML "Server-sent events" parsing rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream):
lines end in CRLF, LF or CR; a blank line ends an event; ``data:`` lines are joined with
``\\n``; one leading space after the colon is dropped; lines starting with ``:`` are comments.
Events may be split across reads and several may arrive in one read: :class:`SSEParser` keeps
the undelivered tail between :meth:`SSEParser.feed` calls. Each event keeps its exact raw bytes
so a proxy can forward (or withhold) it unchanged.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: A blank line ends an event: two line ends in a row, each CRLF, LF or CR, mixed or not. The
#: groups are atomic so CRLF is never split into CR + LF. One regex scan finds the earliest,
#: so framing a read of many events is linear (searching for each style separately rescanned
#: the rest of the buffer per event for the styles a stream does not use).
_TERMINATOR = re.compile(rb"(?>\r\n|\n|\r)(?>\r\n|\n|\r)")
_BOM = b"\xef\xbb\xbf"


class SSEEvent(NamedTuple):
    """One framed SSE event.

    Attributes:
        data: the joined ``data:`` lines, or ``None`` when the event has no data field (a
            comment-only keep-alive, for instance).
        event: the ``event:`` name, if any.
        raw: the event's bytes as received, including its terminating blank line.
    """

    data: bytes | None
    event: str | None
    raw: bytes


def parse_event_block(block: bytes, raw: bytes) -> SSEEvent:
    """Parse one event's lines (``block``, without its terminating blank line)."""
    if block[:3] == _BOM:
        block = block[3:]  # a UTF-8 byte order mark may open the stream; it is not data
    if block[:6] == b"data: " and b"\n" not in block and b"\r" not in block:
        return SSEEvent(block[6:], None, raw)  # the common case: one data line
    data_lines: list[bytes] = []
    event: str | None = None
    for line in block.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        if not line or line[:1] == b":":
            continue
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            event = value.decode("utf-8", "replace")
    data = b"\n".join(data_lines) if data_lines else None
    return SSEEvent(data, event, raw)


class SSEParser:
    """Frames a byte stream into :class:`SSEEvent` objects as bytes arrive."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add received bytes; return the events they complete (possibly none)."""
        buf = self._buf + chunk if self._buf else chunk
        events: list[SSEEvent] = []
        start = 0
        if b"\r" not in buf:  # LF-only, as most providers send: a plain find is exact
            while (end := buf.find(b"\n\n", start)) != -1:
                events.append(parse_event_block(buf[start:end], buf[start : end + 2]))
                start = end + 2
        else:
            search = _TERMINATOR.search
            while (match := search(buf, start)) is not None:
                end, stop = match.span()
                if stop == len(buf) and buf[-1:] == b"\r":
                    break  # CR or the first half of CRLF? The next read tells.
                events.append(parse_event_block(buf[start:end], buf[start:stop]))
                start = stop
        self._buf = buf[start:] if start else buf
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: return the unterminated last event, if any bytes were left."""
        rest, self._buf = self._buf, b""
        if not rest.strip():
            return [SSEEvent(None, None, rest)] if rest else []
        return [parse_event_block(rest, rest)]

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete event."""
        return self._buf
