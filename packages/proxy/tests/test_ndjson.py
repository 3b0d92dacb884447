"""Tests of the incremental NDJSON framer (traceforge_proxy.ndjson.NDJSONParser).

Every recorded Ollama transcript must frame the same however the bytes arrive (whole, split
at any byte, one byte at a time), and the raw bytes of the events must add up to the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec
import pytest

from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.sse import SSEEvent

OLLAMA = Path(__file__).parent / "data" / "provider-streams" / "ollama"
TRANSCRIPTS = sorted(OLLAMA.glob("*.ndjson"))
#: Lines per transcript, counted from the files (each line is one JSON object).
LINE_COUNTS = {
    "chat-stream.ndjson": 33,
    "chat-stream-tool-call.ndjson": 2,
    "generate-stream.ndjson": 22,
}


def feed_all(pieces: Iterable[bytes]) -> list[SSEEvent]:
    parser = NDJSONParser()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.close()
    assert parser.pending == b""
    return events


def test_transcripts_found() -> None:
    assert [path.name for path in TRANSCRIPTS] == sorted(LINE_COUNTS)


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.name)
def test_transcript_whole(path: Path) -> None:
    data = path.read_bytes()
    parser = NDJSONParser()
    events = parser.feed(data)
    assert parser.close() == []  # every line ends in \n: nothing left for close()
    assert len(events) == LINE_COUNTS[path.name]
    assert b"".join(event.raw for event in events) == data
    for event in events:
        assert isinstance(event, SSEEvent)
        assert event.event is None
        assert event.raw.endswith(b"}\n")
        assert event.data == event.raw[:-1]
    payloads = [msgspec.json.decode(event.raw) for event in events]
    assert [payload["done"] for payload in payloads] == [False] * (len(events) - 1) + [True]


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.name)
def test_transcript_split_at_every_byte(path: Path) -> None:
    data = path.read_bytes()
    whole = feed_all([data])
    for cut in range(len(data) + 1):
        assert feed_all([data[:cut], data[cut:]]) == whole, cut


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.name)
def test_transcript_byte_by_byte(path: Path) -> None:
    data = path.read_bytes()
    parser = NDJSONParser()
    events: list[SSEEvent] = []
    for i in range(len(data)):
        new = parser.feed(data[i : i + 1])
        # an event is completed exactly by the byte that ends its line
        assert len(new) == (1 if data[i : i + 1] == b"\n" else 0)
        events += new
    assert parser.close() == []
    assert events == feed_all([data])


def test_many_lines_in_one_read_with_partial_tail() -> None:
    parser = NDJSONParser()
    events = parser.feed(b'{"a":1}\n{"b":2}\n{"c":3}\n{"d"')
    assert [event.data for event in events] == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    assert parser.pending == b'{"d"'
    events = parser.feed(b':4}\n{"e":5}\n')
    assert [(event.data, event.raw) for event in events] == [
        (b'{"d":4}', b'{"d":4}\n'),
        (b'{"e":5}', b'{"e":5}\n'),
    ]
    assert parser.pending == b""


def test_line_split_over_many_reads() -> None:
    parser = NDJSONParser()
    for piece in (b'{"mod', b'el":"ll', b"ama3.2", b'"}'):
        assert parser.feed(piece) == []
    assert parser.pending == b'{"model":"llama3.2"}'
    assert parser.feed(b"\n") == [
        SSEEvent(b'{"model":"llama3.2"}', None, b'{"model":"llama3.2"}\n')
    ]


def test_crlf_line_ends() -> None:
    data = b'{"a":1}\r\n{"b":2}\r\n'
    events = feed_all([data])
    assert events == [
        SSEEvent(b'{"a":1}', None, b'{"a":1}\r\n'),
        SSEEvent(b'{"b":2}', None, b'{"b":2}\r\n'),
    ]
    # CR and LF in different reads
    assert feed_all([b'{"a":1}\r', b'\n{"b":2}\r', b"\n"]) == events
    for cut in range(len(data) + 1):
        assert feed_all([data[:cut], data[cut:]]) == events


def test_no_trailing_newline() -> None:
    parser = NDJSONParser()
    assert parser.feed(b'{"a":1}\n{"error":"boom"}') == [SSEEvent(b'{"a":1}', None, b'{"a":1}\n')]
    assert parser.pending == b'{"error":"boom"}'
    assert parser.close() == [SSEEvent(b'{"error":"boom"}', None, b'{"error":"boom"}')]
    assert parser.pending == b""
    assert parser.close() == []


def test_unterminated_tail_with_cr() -> None:
    assert feed_all([b'{"a":1}\r']) == [SSEEvent(b'{"a":1}', None, b'{"a":1}\r')]


def test_blank_lines_keep_their_raw_bytes() -> None:
    data = b'\n{"a":1}\n\n  \r\n{"b":2}\n\r\n'
    events = feed_all([data])
    assert events == [
        SSEEvent(None, None, b"\n"),
        SSEEvent(b'{"a":1}', None, b'{"a":1}\n'),
        SSEEvent(None, None, b"\n"),
        SSEEvent(None, None, b"  \r\n"),
        SSEEvent(b'{"b":2}', None, b'{"b":2}\n'),
        SSEEvent(None, None, b"\r\n"),
    ]
    assert b"".join(event.raw for event in events) == data
    assert feed_all([b"   "]) == [SSEEvent(None, None, b"   ")]


def test_empty_reads_and_empty_stream() -> None:
    parser = NDJSONParser()
    assert parser.feed(b"") == []
    assert parser.close() == []
    assert feed_all([b"", b'{"a":1}', b"", b"\n", b""]) == [
        SSEEvent(b'{"a":1}', None, b'{"a":1}\n')
    ]


def test_byte_order_mark_is_not_data() -> None:
    data = b'\xef\xbb\xbf{"a":1}\n{"b":2}\n'
    for cut in range(len(data) + 1):
        events = feed_all([data[:cut], data[cut:]])
        assert [event.data for event in events] == [b'{"a":1}', b'{"b":2}']
        assert b"".join(event.raw for event in events) == data
    # only at the very start of the stream
    assert feed_all([b'{"a":1}\n\xef\xbb\xbf{"b":2}\n'])[1].data == b'\xef\xbb\xbf{"b":2}'


def test_long_line_in_small_reads_is_delivered_whole() -> None:
    """A 2 MB line in 16-byte reads comes out as one event, byte for byte (the framing's
    speed on such input is measured in bench/, not asserted here)."""
    line = b'{"response":"' + b"x" * (2 * 1024 * 1024) + b'"}\n'
    parser = NDJSONParser()
    events: list[SSEEvent] = []
    for i in range(0, len(line), 16):
        events += parser.feed(line[i : i + 16])
    assert events == [SSEEvent(line[:-1], None, line)]
