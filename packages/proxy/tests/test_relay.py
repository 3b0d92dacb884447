"""The relays without sockets: every recorded transcript, split at every byte boundary, in
every relay mode that applies, writes the same bytes and records the same trace as unsplit."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.exchange_record import decode_record, encode_record
from traceforge_proxy.plan import ForwardingPlan, Framing, RelayMode, Target
from traceforge_proxy.providers import adapter_for
from traceforge_proxy.relay import ConvertRelay, RawRelay, WithholdUsageRelay, start_relay
from traceforge_proxy.testing import make_exchange
from traceforge_proxy.trace_build import build_trace

TESTS_DATA = Path(__file__).parent / "data" / "provider-streams"
MOCK_DATA = Path(__file__).parents[1] / "src" / "traceforge_proxy" / "mock_upstream" / "data"
#: Transcripts split at every byte boundary up to this size; larger ones at every boundary of
#: their first and last 512 bytes and around every event end (every boundary of every transcript is
#: n^2 work, about 10 minutes on 2 cores: set TRACEFORGE_RELAY_EXHAUSTIVE=1 for it).
EVERY_BOUNDARY_MAX = 1 << 30 if os.environ.get("TRACEFORGE_RELAY_EXHAUSTIVE") == "1" else 2_048
NOW = 5_000_000


def _transcripts() -> dict[str, tuple[str, bytes]]:
    """Distinct transcripts: name → (provider directory, bytes)."""
    found: dict[str, tuple[str, str, bytes]] = {}
    for root in (TESTS_DATA, MOCK_DATA):
        for path in sorted([*root.rglob("*.sse"), *root.rglob("*.ndjson")]):
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            provider = path.parent.name if path.parent != root else "openai-chat"
            found.setdefault(digest, (f"{provider}/{path.name}", provider, data))
    return {name: (provider, data) for name, provider, data in found.values()}


TRANSCRIPTS = _transcripts()
#: Transcript directory → the adapter converting its streams.
ADAPTED = {
    "anthropic-messages": "anthropic",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
    "cohere": "cohere",
}


def _framing(name: str) -> Framing:
    return "ndjson" if name.endswith(".ndjson") else "sse"


def _has_usage_chunk(data: bytes) -> bool:
    return b'"choices":[]' in data and b'"usage":{' in data


def _plan(mode: RelayMode, target: Target) -> ForwardingPlan:
    return ForwardingPlan(
        target, "POST", "http://upstream/x", {}, b"{}", mode, stream=True, include_usage=True
    )


def _exchange() -> Exchange:
    return make_exchange(request_body=b'{"model": "m"}')


Case = tuple[str, RelayMode, Target]


def _cases() -> Iterator[Case]:
    for name, (provider, data) in sorted(TRANSCRIPTS.items()):
        yield name, "raw", Target("openai")
        adapter_name = ADAPTED.get(provider)
        if adapter_name is not None:
            adapter = adapter_for(adapter_name)
            yield name, "raw", Target(adapter_name, "m", "passthrough", adapter, "/chat")
            yield name, "convert", Target(adapter_name, "m", "converted", adapter, "/chat")
        elif _has_usage_chunk(data):
            yield name, "withhold_usage", Target("openai")


CASES = list(_cases())


def _relayed(
    mode: RelayMode, target: Target, framing: Framing, pieces: list[bytes]
) -> tuple[bytes, Exchange]:
    """Relay ``pieces`` as reads; return the bytes written and the exchange."""
    exchange = _exchange()
    plan = _plan(mode, target)
    exchange.sending(plan, 1_000_000)
    exchange.headers_received(200, [("Content-Type", "text/event-stream")], 2_000_000, 1_700)
    relay = start_relay(plan, exchange, framing, 200, 1_700)
    out = []
    for piece in pieces:
        out.append(relay.feed(piece, NOW))
        if relay.done:
            break
    out.append(relay.close(NOW))
    exchange.end(NOW)
    return b"".join(out), exchange


def _recorded(exchange: Exchange) -> object:
    """What a relay records, cheaply comparable: stored chunks, counters, warnings."""
    counts = (exchange.chunks_received, exchange.chunks_withheld, exchange.chunks_converted)
    return exchange.chunks, counts, exchange.warnings


def _run(
    mode: RelayMode, target: Target, framing: Framing, pieces: list[bytes]
) -> tuple[bytes, bytes]:
    """Relay ``pieces`` as reads; return (bytes written, the trace as JSON)."""
    out, exchange = _relayed(mode, target, framing, pieces)
    return out, msgspec.json.encode(exchange.to_trace())


def _boundaries(data: bytes) -> Iterator[int]:
    if len(data) <= EVERY_BOUNDARY_MAX:
        yield from range(len(data) + 1)
        return
    picked = set(range(512)) | set(range(len(data) - 512, len(data) + 1))
    start = 0
    while (end := data.find(b"\n\n", start)) != -1:
        picked.update(range(max(0, end - 1), min(len(data), end + 2)))
        start = end + 1
    yield from sorted(picked)


def _id(case: Case) -> str:
    name, mode, target = case
    return f"{name}-{mode}-{target.route}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_every_split_writes_and_records_as_unsplit(case: Case) -> None:
    name, mode, target = case
    data = TRANSCRIPTS[name][1]
    framing = _framing(name)
    expected_out, whole = _relayed(mode, target, framing, [data])
    expected = _recorded(whole)
    for i in _boundaries(data):
        out, exchange = _relayed(mode, target, framing, [data[:i], data[i:]])
        assert out == expected_out, f"split at {i}"
        assert _recorded(exchange) == expected, f"split at {i}"
    one_by_one = [data[i : i + 1] for i in range(len(data))]
    assert _run(mode, target, framing, one_by_one) == _run(mode, target, framing, [data])


def _without_usage_event(data: bytes) -> bytes:
    events = data.split(b"\n\n")
    kept = [e for e in events if not (b'"choices":[]' in e and b'"usage":{' in e)]
    assert len(kept) == len(events) - 1
    return b"\n\n".join(kept)


RAW = [c for c in CASES if c[1] == "raw" and c[2].route == "openai"]


@pytest.mark.parametrize("case", RAW, ids=[_id(c) for c in RAW])
def test_raw_relay_writes_the_input(case: Case) -> None:
    name, _, target = case
    data = TRANSCRIPTS[name][1]
    out, trace = _run("raw", target, _framing(name), [data])
    assert out == data
    assert msgspec.json.decode(trace)["metadata"]["chunks_received"] > 0


WITHHOLD = [c for c in CASES if c[1] == "withhold_usage"]


@pytest.mark.parametrize("case", WITHHOLD, ids=[_id(c) for c in WITHHOLD])
def test_withhold_relay_writes_the_input_minus_the_usage_event(case: Case) -> None:
    name, _, target = case
    data = TRANSCRIPTS[name][1]
    out, trace = _run("withhold_usage", target, _framing(name), [data])
    assert out == _without_usage_event(data)
    meta = msgspec.json.decode(trace)["metadata"]
    assert meta["usage"]["total_tokens"] > 0
    assert meta["total_chunks"] == meta["chunks_received"] - 1


CONVERT = [c for c in CASES if c[1] == "convert"]


@pytest.mark.parametrize("case", CONVERT, ids=[_id(c) for c in CONVERT])
def test_convert_relay_writes_openai_chunks_then_done(case: Case) -> None:
    name, _, target = case
    out, _ = _run("convert", target, _framing(name), [TRANSCRIPTS[name][1]])
    events = [e for e in out.split(b"\n\n") if e]
    assert all(e.startswith(b"data: ") for e in events)
    if "error" in name:
        assert events[-1] != b"data: [DONE]"
        assert b'"error"' in events[-1]
    else:
        assert events[-1] == b"data: [DONE]"
        chunks = [msgspec.json.decode(e[6:]) for e in events[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_the_cases_cover_every_mode_and_transcript() -> None:
    assert {c[1] for c in CASES} == {"raw", "withhold_usage", "convert"}
    assert {c[0] for c in CASES} == set(TRANSCRIPTS)
    assert len(TRANSCRIPTS) >= 18


def test_convert_relay_stops_after_the_provider_error() -> None:
    data = TRANSCRIPTS["anthropic-messages/stream-error-overloaded.sse"][1]
    target = Target("anthropic", "m", "converted", adapter_for("anthropic"), "/v1/messages")
    exchange = _exchange()
    relay = start_relay(_plan("convert", target), exchange, "sse", 200, 0)
    assert isinstance(relay, ConvertRelay)
    out = relay.feed(data + b'event: ping\ndata: {"type": "ping"}\n\n', NOW)
    assert relay.done
    last = msgspec.json.decode(out.rsplit(b"data: ", 1)[1])
    assert last["error"]["code"] == "overloaded"
    received = exchange.chunks_received
    assert relay.feed(b'event: ping\ndata: {"type": "ping"}\n\n', NOW) == b""
    assert relay.close(NOW) == b""
    assert exchange.chunks_received == received  # nothing after the error is recorded
    trace = exchange.to_trace()
    assert trace.metadata.status == "error"
    assert trace.metadata.error is not None and trace.metadata.error.type == "overloaded"


def test_start_relay_picks_the_class_and_converter_by_mode_and_status() -> None:
    adapter = adapter_for("ollama")
    passthrough = Target("ollama", "llama3", "passthrough", adapter, "/api/chat")
    ok = _exchange()
    assert isinstance(start_relay(_plan("raw", passthrough), ok, "ndjson", 200, 0), RawRelay)
    # Passthrough: no converter on the event loop; the trace's builder makes the OpenAI view.
    assert ok.streaming and ok.native_stream and ok.converter is None
    failed = _exchange()
    start_relay(_plan("raw", passthrough), failed, "ndjson", 500, 0)
    assert failed.streaming and failed.converter is None
    plain = _exchange()
    relay = start_relay(_plan("withhold_usage", Target("openai")), plain, "sse", 200, 0)
    assert isinstance(relay, WithholdUsageRelay) and plain.converter is None


def test_an_unterminated_last_event_is_recorded_with_a_warning() -> None:
    exchange = _exchange()
    relay = start_relay(_plan("raw", Target("openai")), exchange, "sse", 200, 0)
    data = b'data: {"choices": []}\n\ndata: {"id": "x"}'
    assert relay.feed(data, NOW) == data
    assert relay.close(NOW) == b""
    assert exchange.chunks_received == 2
    assert any("ended inside an event" in w for w in exchange.warnings)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_the_record_sent_to_the_writer_process_builds_the_same_trace(case: Case) -> None:
    """What crosses the pipe (the record, MessagePack-encoded once) builds the trace the
    writer thread builds from the exchange itself, for every transcript and route."""
    name, mode, target = case
    exchange = _exchange()
    exchange.routed(target)  # as the handler does: passthrough traces get the OpenAI view
    plan = _plan(mode, target)
    exchange.sending(plan, 1_000_000)
    exchange.headers_received(200, [("Content-Type", "text/event-stream")], 2_000_000, 1_700)
    relay = start_relay(plan, exchange, _framing(name), 200, 1_700)
    relay.feed(TRANSCRIPTS[name][1], NOW)
    relay.close(NOW + 1)
    exchange.end(NOW + 2)
    direct = exchange.to_trace()
    crossed = build_trace(decode_record(encode_record(exchange.record())))
    assert msgspec.json.encode(crossed) == msgspec.json.encode(direct)
    assert direct.metadata.chunks_received == exchange.chunks_received > 0
    if target.route == "passthrough" and direct.metadata.status == "success":
        assert isinstance(direct.response, dict) and direct.response.get("choices")


RAW_CASES = [case for case in CASES if case[1] == "raw"]


def _kept_or_framed(
    name: str,
    target: Target,
    pieces: list[bytes],
    *,
    keep_reads: bool,
    chunk_cap: int = 10_000,
    ending: str = "close",
) -> tuple[bytes, bytes]:
    """Relay ``pieces`` (read ``i`` arriving at ``NOW + i`` µs) with the raw relay, keeping
    the reads for the builder or framing them on the loop; end the stream as ``ending``
    says (``close``, or ``broke``: the upstream failed after the last read). Returns the
    bytes written and the trace built from the record as it crosses the writer's pipe."""
    exchange = make_exchange(request_body=b'{"model": "m"}', chunk_cap=chunk_cap)
    exchange.routed(target)
    plan = _plan("raw", target)
    exchange.sending(plan, 1_000_000)
    exchange.headers_received(200, [("Content-Type", "text/event-stream")], 2_000_000, 1_700)
    relay = start_relay(plan, exchange, _framing(name), 200, 1_700, keep_reads=keep_reads)
    out = [relay.feed(piece, NOW + 1_000 * i) for i, piece in enumerate(pieces)]
    end = NOW + 1_000 * len(pieces)
    if ending == "close":
        out.append(relay.close(end))
        exchange.end(end + 1)
    else:
        exchange.upstream_failed("failed", "connection reset", end)
    record = exchange.record()
    if ending == "close" and chunk_cap == 10_000:  # kept whole up to the builder, or not
        assert (record.stream_reads is not None) == keep_reads
    trace = build_trace(decode_record(encode_record(record)))
    return b"".join(out), msgspec.json.encode(trace)


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


@pytest.mark.parametrize("case", RAW_CASES, ids=[_id(c) for c in RAW_CASES])
@pytest.mark.parametrize("size", [1 << 30, 997, 64, 7])
@pytest.mark.parametrize("chunk_cap", [10_000, 3])
def test_reads_kept_for_the_builder_make_the_trace_events_framed_on_the_loop_make(
    case: Case, size: int, chunk_cap: int
) -> None:
    """The raw relay keeping reads (no ``chunk`` hook listens) writes the same bytes and
    records the same trace as framing each read on the loop: every event at the time of the
    read that completed it, the chunk cap and its merged tail, for every transcript, read
    size and route."""
    name, _, target = case
    pieces = _pieces(TRANSCRIPTS[name][1], size)
    framed = _kept_or_framed(name, target, pieces, keep_reads=False, chunk_cap=chunk_cap)
    kept = _kept_or_framed(name, target, pieces, keep_reads=True, chunk_cap=chunk_cap)
    assert kept == framed
    assert b'"chunks":[' in kept[1]


@pytest.mark.parametrize("ending", ["close", "broke"])
@pytest.mark.parametrize("cut", [1, 2, 40])
def test_reads_kept_for_the_builder_end_as_events_framed_on_the_loop_end(
    ending: str, cut: int
) -> None:
    """A stream that ends inside an event (closed: its last bytes make one more event, with
    the warning; broke off: they are dropped) is recorded the same either way."""
    name = "openai-chat/stream-text-usage.sse"
    data = TRANSCRIPTS[name][1][:-cut]
    pieces = _pieces(data, 50)
    framed = _kept_or_framed(name, Target("openai"), pieces, keep_reads=False, ending=ending)
    kept = _kept_or_framed(name, Target("openai"), pieces, keep_reads=True, ending=ending)
    assert kept == framed
    trace = msgspec.json.decode(kept[1])
    warned = any("ended inside an event" in w for w in trace["metadata"]["warnings"])
    assert warned == (ending == "close")  # the last bytes cut hold data


def test_events_read_on_the_loop_mid_stream_leave_the_later_reads_recorded() -> None:
    """An accessor of the events (the chunk count a failure message names) frames the reads
    kept so far; the relay then records the later reads event by event, none lost."""
    name = "openai-chat/stream-text-usage.sse"
    events = [e + b"\n\n" for e in TRANSCRIPTS[name][1].split(b"\n\n") if e.strip()]
    exchange = make_exchange(request_body=b'{"model": "m"}')
    plan = _plan("raw", Target("openai"))
    exchange.sending(plan, 1_000_000)
    exchange.headers_received(200, [("Content-Type", "text/event-stream")], 2_000_000, 1_700)
    relay = start_relay(plan, exchange, "sse", 200, 1_700, keep_reads=True)
    for i, event in enumerate(events[:3]):
        relay.feed(event, NOW + 1_000 * i)
    assert exchange.chunks_received == 3
    for i, event in enumerate(events[3:], start=3):
        relay.feed(event, NOW + 1_000 * i)
    relay.close(NOW + 1_000 * len(events))
    exchange.end(NOW + 1_000 * len(events))
    trace = build_trace(decode_record(encode_record(exchange.record())))
    assert len(trace.chunks) == len(events) > 3
    assert [c.offset_ms for c in trace.chunks] == [  # each at its read's time (1 µs apart)
        round((NOW + 1_000 * i - 1_000_000) / 1e6, 3) for i in range(len(events))
    ]
