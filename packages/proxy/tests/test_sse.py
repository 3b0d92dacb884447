"""Tests of the incremental SSE framer (traceforge_proxy.sse.SSEParser).

Every recorded provider transcript must frame the same however the bytes arrive (whole, one
byte at a time, random splits), and the raw bytes of the events must add up to the input.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

import msgspec
import pytest

import traceforge_proxy.mock_upstream as mock_upstream
from traceforge_proxy.sse import SSEEvent, SSEParser, parse_event_block

MOCK_DATA = Path(mock_upstream.__file__).parent / "data"
#: Real provider wire transcripts (see data/provider-streams/README.md for sources).
PROVIDER_STREAMS = Path(__file__).parent / "data" / "provider-streams"


def _transcripts() -> list[object]:
    params: list[object] = [
        pytest.param(path, id=f"mock/{path.name}") for path in sorted(MOCK_DATA.glob("*.sse"))
    ]
    provider = sorted(PROVIDER_STREAMS.glob("**/*.sse"))
    params += [pytest.param(path, id=str(path.relative_to(PROVIDER_STREAMS))) for path in provider]
    assert provider, f"no provider stream fixtures at {PROVIDER_STREAMS}"
    return params


TRANSCRIPTS = _transcripts()


def feed_all(pieces: Iterable[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.close()
    assert parser.pending == b""
    return events


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, rng: random.Random, max_size: int) -> list[bytes]:
    pieces = []
    i = 0
    while i < len(data):
        size = rng.randint(0, max_size)  # 0: an empty read now and then
        pieces.append(data[i : i + size])
        i += size
    assert b"".join(pieces) == data
    return pieces


# -- a plain reference reading of a transcript (consistent framing, as every fixture has) ------


def reference_events(data: bytes) -> list[tuple[bytes | None, str | None, bytes]]:
    """``(data, event, raw)`` per event, by splitting the file on its blank lines."""
    newline = b"\r\n" if b"\r\n" in data else b"\n"
    separator = newline * 2
    blocks = data.split(separator)
    assert blocks[-1] == b"", "every fixture ends with a blank line"
    out = []
    for block in blocks[:-1]:
        data_lines = []
        name = None
        for line in block.split(newline):
            if line.startswith(b"data:"):
                value = line[5:]
                data_lines.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"event:"):
                name = line[6:].strip().decode()
        out.append((b"\n".join(data_lines) if data_lines else None, name, block + separator))
    return out


# -- transcripts ---------------------------------------------------------------------------------


def test_transcript_sets_are_found() -> None:
    names = {p.name for p in MOCK_DATA.glob("*.sse")}
    assert {
        "stream-text-usage.sse",
        "stream-tool-calls.sse",
        "stream-parallel-tool-calls.sse",
        "stream-text-usage-2026.sse",
    } <= names


@pytest.mark.parametrize("path", TRANSCRIPTS)
def test_transcript_frames_the_same_however_split(path: Path) -> None:
    data = path.read_bytes()
    whole = feed_all([data])

    assert b"".join(e.raw for e in whole) == data
    assert [(e.data, e.event, e.raw) for e in whole] == reference_events(data)
    assert len(whole) == len(re.findall(rb"^data:", data, re.MULTILINE))

    assert feed_all(bytewise(data)) == whole
    for seed in range(6):
        rng = random.Random(f"{path.name}/{seed}")
        max_size = (3, 17, 64, 300, 1500, 9000)[seed]
        pieces = random_splits(data, rng, max_size)
        events = feed_all(pieces)
        assert events == whole, f"seed {seed}"
        assert b"".join(e.raw for e in events) == data


@pytest.mark.parametrize("path", TRANSCRIPTS)
def test_transcript_payloads(path: Path) -> None:
    data = path.read_bytes()
    events = feed_all([data])
    names = [m.decode() for m in re.findall(rb"^event: ?([^\r\n]*)", data, re.MULTILINE)]
    assert [e.event for e in events if e.event is not None] == names
    for event in events:
        assert event.data is not None
        assert b"\r" not in event.data
        assert not event.data.startswith(b" ")
        if event.data == b"[DONE]":
            assert event is events[-1]
            continue
        payload = msgspec.json.decode(event.data)
        assert isinstance(payload, dict)
        if event.event is not None:
            # Anthropic, OpenAI Responses and Cohere repeat the event name as data.type.
            assert payload["type"] == event.event


def test_gemini_uses_crlf_and_anthropic_names_events() -> None:
    gemini = PROVIDER_STREAMS / "gemini" / "stream-text.sse"
    anthropic = PROVIDER_STREAMS / "anthropic-messages" / "stream-text.sse"
    gemini_events = feed_all(bytewise(gemini.read_bytes()))
    assert len(gemini_events) == 3
    assert all(e.raw.endswith(b"\r\n\r\n") for e in gemini_events)
    assert all(e.event is None for e in gemini_events)
    last = msgspec.json.decode(gemini_events[-1].data or b"")
    assert last["candidates"][0]["finishReason"] == "STOP"

    anthropic_events = feed_all(bytewise(anthropic.read_bytes()))
    assert anthropic_events[0].event == "message_start"
    assert anthropic_events[-1].event == "message_stop"
    assert "ping" in [e.event for e in anthropic_events]
    assert anthropic_events[2].data == b'{"type": "ping"}'


def test_openai_text_transcript_contents() -> None:
    events = feed_all([(MOCK_DATA / "stream-text-usage.sse").read_bytes()])
    assert len(events) == 34  # grep -c "^data:" stream-text-usage.sse
    assert events[-1].data == b"[DONE]"
    assert events[-1].raw == b"data: [DONE]\n\n"
    usage = msgspec.json.decode(events[-2].data or b"")
    assert usage["choices"] == []
    assert usage["usage"]["total_tokens"] > 0


# -- framing rules ---------------------------------------------------------------------------


def parse_all(data: bytes) -> list[SSEEvent]:
    """Parse ``data`` whole and byte by byte; both must agree."""
    whole = feed_all([data])
    assert feed_all(bytewise(data)) == whole
    assert b"".join(e.raw for e in whole) == data
    return whole


def test_data_lines_joined_with_newline() -> None:
    [event] = parse_all(b"data: first\ndata:second\ndata:  third\ndata\ndata: \n\n")
    # one leading space is dropped, not two; a bare "data" line adds an empty line
    assert event.data == b"first\nsecond\n third\n\n"
    assert event.event is None


def test_empty_data_line() -> None:
    [event] = parse_all(b"data:\n\n")
    assert event.data == b""


def test_colon_inside_value_kept() -> None:
    [event] = parse_all(b'data: {"a": "b:c"}\n\n')
    assert event.data == b'{"a": "b:c"}'


def test_comment_lines_ignored() -> None:
    events = parse_all(b": keep-alive\n\ndata: a\n: in the middle\ndata: b\n\n:x\n\n")
    assert [(e.data, e.event) for e in events] == [(None, None), (b"a\nb", None), (None, None)]
    assert events[0].raw == b": keep-alive\n\n"
    assert events[1].raw == b"data: a\n: in the middle\ndata: b\n\n"


def test_comment_is_not_data() -> None:
    [event] = parse_all(b":data: not data\n\n")
    assert event.data is None


def test_event_names() -> None:
    events = parse_all(
        b"event: message_start\ndata: {}\n\n"
        b'event:ping\ndata: {"type": "ping"}\n\n'
        b"event: first\nevent: second\ndata: x\n\n"
        b"event: no_data\n\n"
        b"data: unnamed\n\n"
    )
    assert [(e.event, e.data) for e in events] == [
        ("message_start", b"{}"),
        ("ping", b'{"type": "ping"}'),
        ("second", b"x"),  # the last event: line wins
        ("no_data", None),
        (None, b"unnamed"),
    ]


def test_other_fields_ignored() -> None:
    [event] = parse_all(b"id: 7\nretry: 1000\ndata: x\nfoo: bar\n\n")
    assert (event.data, event.event) == (b"x", None)


def test_cr_only_line_endings() -> None:
    data = b"event: a\rdata: one\rdata: two\r\rdata: three\r\r"
    events = parse_all(data)
    assert [(e.data, e.event) for e in events] == [(b"one\ntwo", "a"), (b"three", None)]
    assert [e.raw for e in events] == [b"event: a\rdata: one\rdata: two\r\r", b"data: three\r\r"]


def test_crlf_line_endings() -> None:
    data = b"event: e\r\ndata: one\r\ndata: two\r\n\r\ndata: three\r\n\r\n"
    events = parse_all(data)
    assert [(e.data, e.event) for e in events] == [(b"one\ntwo", "e"), (b"three", None)]
    assert events[1].raw == b"data: three\r\n\r\n"


def test_line_ending_styles_between_events() -> None:
    events = parse_all(b"data: lf\n\ndata: crlf\r\n\r\ndata: cr\r\r")
    assert [e.data for e in events] == [b"lf", b"crlf", b"cr"]


def test_many_events_in_one_read_and_one_event_over_many_reads() -> None:
    parser = SSEParser()
    assert parser.feed(b"") == []
    assert parser.feed(b"da") == []
    assert parser.feed(b"ta: x") == []
    assert parser.pending == b"data: x"
    assert parser.feed(b"\n") == []
    events = parser.feed(b"\ndata: y\n\ndata: z\n\ndata: partial")
    assert [e.data for e in events] == [b"x", b"y", b"z"]
    assert [e.raw for e in events] == [b"data: x\n\n", b"data: y\n\n", b"data: z\n\n"]
    assert parser.pending == b"data: partial"


def test_several_events_returned_from_one_feed() -> None:
    parser = SSEParser()
    events = parser.feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\n")
    assert [e.data for e in events] == [b"1", b"2", b"3"]
    assert parser.pending == b""
    assert parser.close() == []


def test_unterminated_last_event_returned_by_close() -> None:
    parser = SSEParser()
    [first] = parser.feed(b"data: a\n\nevent: last\ndata: tail")
    assert first.data == b"a"
    assert parser.pending == b"event: last\ndata: tail"
    assert parser.close() == [SSEEvent(b"tail", "last", b"event: last\ndata: tail")]
    assert parser.pending == b""
    assert parser.close() == []


@pytest.mark.parametrize(
    "tail", [b"data: tail\n", b"data: tail\r\n", b"data: tail\r", b"data: tail"]
)
def test_unterminated_event_with_one_line_end(tail: bytes) -> None:
    events = parse_all(b"data: a\n\n" + tail)
    assert [e.data for e in events] == [b"a", b"tail"]
    assert events[-1].raw == tail


@pytest.mark.parametrize("rest", [b"\n", b"\r\n", b"  ", b"\n\r"])
def test_trailing_whitespace_kept_as_a_dataless_event(rest: bytes) -> None:
    parser = SSEParser()
    [event] = parser.feed(b"data: a\n\n" + rest)
    assert event.data == b"a"
    assert parser.close() == [SSEEvent(None, None, rest)]


def test_close_on_empty_parser() -> None:
    assert SSEParser().close() == []
    assert feed_all([]) == []


def test_multibyte_utf8_split_across_reads() -> None:
    text = "data: h\u00e9llo \u2713 \U0001f600\n\nevent: \u00e9v\u00e9nement\ndata: x\n\n"
    events = parse_all(text.encode())
    assert events[0].data == "h\u00e9llo \u2713 \U0001f600".encode()
    assert events[1].event == "\u00e9v\u00e9nement"


def test_invalid_utf8_event_name_replaced() -> None:
    [event] = parse_all(b"event: a\xffb\ndata: x\n\n")
    assert event.event == "a\ufffdb"


def test_parse_event_block_directly() -> None:
    event = parse_event_block(b"event: x\r\ndata: 1\rdata: 2\ndata: 3", b"RAW")
    assert event == SSEEvent(b"1\n2\n3", "x", b"RAW")
