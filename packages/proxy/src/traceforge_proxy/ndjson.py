"""Incremental newline-delimited JSON framing (sans-I/O), the NDJSON twin of :mod:`.sse`.

Ollama streams ``application/x-ndjson``: one compact JSON object per line, each ending in
``\\n`` (https://github.com/ollama/ollama/blob/main/docs/api.md, "Streaming responses"; the
NDJSON spec, https://github.com/ndjson/ndjson-spec, also allows ``\\r\\n``). Lines may be
split across reads and many may arrive in one read: :class:`NDJSONParser` keeps the incomplete
tail between :meth:`NDJSONParser.feed` calls. It yields :class:`~traceforge_proxy.sse.SSEEvent`
objects so the proxy handles both framings alike: ``event`` is always ``None``, ``data`` is the
line without its line end (``None`` for a blank or whitespace-only line) and ``raw`` is the
line's exact bytes, line end included, so the ``raw`` of all events joined equals the input.
"""

from __future__ import annotations

from traceforge_proxy.sse import SSEEvent

_BOM = b"\xef\xbb\xbf"


def _line_event(raw: bytes) -> SSEEvent:
    """One line (with its ``\\n``, or the unterminated tail) as an event."""
    data = raw[:-1] if raw[-1:] == b"\n" else raw
    if data[-1:] == b"\r":
        data = data[:-1]
    if not data.strip():
        return SSEEvent(None, None, raw)  # blank (or whitespace-only) line: keep its bytes
    return SSEEvent(data, None, raw)


class NDJSONParser:
    """Frames a byte stream into one :class:`~traceforge_proxy.sse.SSEEvent` per line.

    Linear time: each read is scanned once from where the last line ended, and the pieces of a
    line split over many reads are kept in a list and joined once, when its ``\\n`` arrives. A
    UTF-8 byte order mark opening the stream is kept in ``raw`` but dropped from ``data``.
    """

    __slots__ = ("_parts", "_started")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._started = False

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Add received bytes; return the events for the lines they complete (possibly none)."""
        if not data:
            return []
        end = data.find(b"\n")
        if end == -1:
            self._parts.append(data)
            return []
        if self._parts:
            self._parts.append(data[: end + 1])
            first = b"".join(self._parts)
            self._parts = []
        else:
            first = data[: end + 1]
        events = [self._event(first)]
        start = end + 1
        find = data.find
        while (end := find(b"\n", start)) != -1:
            events.append(_line_event(data[start : end + 1]))
            start = end + 1
        if start < len(data):
            self._parts.append(data[start:])
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: return the unterminated last line as one event, if bytes were left."""
        if not self._parts:
            return []
        rest = b"".join(self._parts)
        self._parts = []
        return [self._event(rest)]

    def _event(self, raw: bytes) -> SSEEvent:
        if self._started:
            return _line_event(raw)
        self._started = True
        if raw[:3] != _BOM:
            return _line_event(raw)
        event = _line_event(raw[3:])
        return SSEEvent(event.data, None, raw)

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete line."""
        return b"".join(self._parts)
