"""The planted corpus (tests/data/planted_secrets.json: 80+ fake secrets and PII values of
every kind) through :meth:`Redactor.redact_trace` on traces built from real transcripts of
every stream format (tests/data/streams, copied from the provider-stream fixtures), each
value split over 2-5 chunks at random points (fixed seed), and in requests, tool-call
arguments, tool messages, native request/response, headers, warnings and error messages.

Asserted: no value and no fragment of 8+ characters of one is left anywhere in the encoded
trace. (The same through the running proxy is for a later end-to-end test.)
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_shared.redact import KINDS, Redactor
from traceforge_shared.testing import make_trace, transcript_events
from traceforge_shared.trace import NativeCall, StreamChunk, Trace, TraceError

DATA = Path(__file__).parent / "data"
CORPUS: list[dict[str, str]] = json.loads((DATA / "planted_secrets.json").read_text())
STREAMS = sorted((DATA / "streams").iterdir())
BATCH = 6  # values planted per trace

#: Fields that carry the streamed text, per format (the planted pieces are appended there).
TEXT_KEYS = frozenset(
    {"content", "text", "delta", "partial_json", "tool_plan", "arguments", "response"}
    | {"reasoning_content", "thinking"}
)


def build_trace(path: Path) -> Trace:
    chunks = []
    for i, (name, data) in enumerate(
        transcript_events(path.read_text(), ndjson=path.suffix == ".ndjson")
    ):
        chunk = StreamChunk(index=i, delta_ms=1.0, offset_ms=float(i), event=name)
        if isinstance(data, str):
            chunk.raw = data
        else:
            chunk.data = data
        chunks.append(chunk)
    trace = make_trace(streaming=True, text="ok")
    trace.chunks = chunks
    return trace


def text_slots(trace: Trace) -> list[tuple[dict[str, Any], str]]:
    """``(container, key)`` of the streamed text field that most chunks carry, in order."""
    by_path: dict[str, list[tuple[dict[str, Any], str]]] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key in TEXT_KEYS:
                    by_path.setdefault(f"{path}.{key}", []).append((value, key))
                else:
                    walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    for chunk in trace.chunks:
        kind = chunk.data.get("type") if isinstance(chunk.data, dict) else None
        walk(chunk.data, f"data<{kind}>")
    return max(by_path.values(), key=len)


def split(text: str, rng: random.Random, pieces: int) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), pieces - 1))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def plant_in_stream(
    trace: Trace, values: list[str], rng: random.Random
) -> list[tuple[dict[str, Any], str]]:
    """Plant each value split over 2-5 consecutive chunks: the first piece at the end of the
    stream's last text chunk, the others in copies of that chunk (their text replaced) put
    right after it, so the values follow the real text in the joined stream. Return the text
    slots of the whole stream, in order."""
    counts = [rng.randint(2, 5) for _ in values]
    container, key = text_slots(trace)[-1]
    at = next(i for i, c in enumerate(trace.chunks) if _holds(c.data, container))
    template = copy.deepcopy(trace.chunks[at])
    clones = [copy.deepcopy(template) for _ in range(sum(counts) - 1)]
    trace.chunks[at + 1 : at + 1] = clones
    for i, chunk in enumerate(trace.chunks):
        chunk.index = i
    slots = [(container, key)]
    for clone in clones:
        holder = next(h for h, name in text_slots_of(clone) if name == key)
        holder[key] = ""
        slots.append((holder, key))
    position = 0
    for value, count in zip(values, counts, strict=True):
        for (holder, name), piece in zip(
            slots[position : position + count], split(f" {value} ", rng, count), strict=True
        ):
            holder[name] += piece
        position += count
    return text_slots(trace)


def _holds(value: Any, target: dict[str, Any]) -> bool:
    if value is target:
        return True
    if isinstance(value, dict):
        return any(_holds(item, target) for item in value.values())
    if isinstance(value, list):
        return any(_holds(item, target) for item in value)
    return False


def text_slots_of(chunk: StreamChunk) -> list[tuple[dict[str, Any], str]]:
    """``(container, key)`` of every text field of one chunk."""
    out: list[tuple[dict[str, Any], str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and key in TEXT_KEYS:
                    out.append((value, key))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(chunk.data)
    return out


def leftovers(encoded: str, secret: str, baseline: str) -> list[str]:
    """The secret itself or 8-character fragments of it (plain or JSON-escaped) found in
    ``encoded`` but not in ``baseline`` (text of the trace without planted values)."""
    found = []
    for form in {secret, json.dumps(secret)[1:-1]}:
        for i in range(len(form) - 7):
            fragment = form[i : i + 8]
            if fragment in encoded and fragment not in baseline:
                found.append(fragment)
    return found


def encoded(trace: Trace) -> str:
    return msgspec.json.encode(trace).decode()


def batches() -> list[list[dict[str, str]]]:
    return [CORPUS[i : i + BATCH] for i in range(0, len(CORPUS), BATCH)]


def test_corpus_is_big_and_covers_every_text_kind() -> None:
    assert len(CORPUS) >= 80
    kinds = {entry["kind"] for entry in CORPUS}
    assert kinds >= set(KINDS) - {"auth_header"}
    assert "sensitive_keys" in kinds


@pytest.mark.parametrize("entry", CORPUS, ids=[f"{e['kind']}-{i}" for i, e in enumerate(CORPUS)])
def test_every_value_is_found_with_its_kind(entry: dict[str, str]) -> None:
    out, kinds = Redactor().redact_text(f"note: {entry['text']} (end)")
    assert entry["kind"] in kinds
    assert entry["secret"] not in out


def test_every_kind_is_found() -> None:
    redactor = Redactor()
    found = {kind for entry in CORPUS for kind in redactor.redact_text(entry["text"])[1]}
    report_headers = redactor.redact_trace(_header_trace("x-custom-token", "abc"))
    found |= {kind for kinds in report_headers.fields.values() for kind in kinds}
    assert found >= set(KINDS)


@pytest.mark.parametrize("stream", STREAMS, ids=[p.name for p in STREAMS])
def test_stream_formats_leave_no_fragment(stream: Path) -> None:
    redactor = Redactor()
    rng = random.Random(stream.name)
    clean = build_trace(stream)
    baseline = encoded(clean) + encoded(redactor.before_save(copy.deepcopy(clean)))
    for batch in batches():
        trace = build_trace(stream)
        slots = plant_in_stream(trace, [entry["text"] for entry in batch], rng)
        joined = "".join(container[key] for container, key in slots)
        assert all(entry["text"] in joined for entry in batch)
        redactor.redact_trace(trace)
        out = encoded(trace)
        for entry in batch:
            assert leftovers(out, entry["secret"], baseline) == [], (entry["kind"], stream.name)


def _responses_events(kind: str, values: list[str], rng: random.Random) -> list[StreamChunk]:
    """A Responses API stream of ``response.<kind>.delta`` events carrying ``values``."""
    text = " then ".join(values)
    chunks = [
        StreamChunk(
            index=0,
            delta_ms=0.0,
            offset_ms=0.0,
            event="response.output_item.added",
            data={"type": "response.output_item.added", "output_index": 1, "item": {"id": "x"}},
        )
    ]
    for i, piece in enumerate(split(text, rng, min(40, len(text) - 1))):
        event = f"response.{kind}.delta"
        data: dict[str, Any] = {
            "type": event,
            "item_id": "item_0123456789abcdef",
            "output_index": 1,
            "content_index": 0,
            "delta": piece,
            "sequence_number": i + 1,
            "obfuscation": "aB3dE",
        }
        chunks.append(StreamChunk(index=i + 1, delta_ms=1.0, offset_ms=1.0, event=event, data=data))
    return chunks


@pytest.mark.parametrize(
    "kind",
    [
        "output_text",
        "function_call_arguments",
        "reasoning_summary_text",
        "audio_transcript",
        "audio.transcript",
        "refusal",
    ],
)
def test_responses_api_delta_events(kind: str) -> None:
    redactor = Redactor()
    rng = random.Random(kind)
    clean = make_trace(streaming=True, text="ok")
    clean.chunks = _responses_events(kind, ["nothing here", "at all"], rng)
    baseline = encoded(clean)
    for batch in batches():
        trace = make_trace(streaming=True, text="ok")
        trace.endpoint = "/v1/responses"
        trace.chunks = _responses_events(kind, [entry["text"] for entry in batch], rng)
        redactor.redact_trace(trace)
        out = encoded(trace)
        for entry in batch:
            assert leftovers(out, entry["secret"], baseline) == [], entry["kind"]


def _header_trace(name: str, value: str) -> Trace:
    trace = make_trace()
    trace.metadata.request_headers = {name: value, "content-type": "application/json"}
    return trace


def _places(value: str, secret_json: str) -> Trace:
    """A trace holding ``value`` in every non-stream place."""
    trace = make_trace(text=f"answer with {value}")
    trace.request["messages"] = [
        {"role": "user", "content": f"use {value}"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "login", "arguments": secret_json},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"result": value})},
    ]
    trace.native = NativeCall(
        endpoint="/v1/messages",
        request={"messages": [{"role": "user", "content": [{"type": "text", "text": value}]}]},
        response={
            "content": [{"type": "tool_use", "input": {"note": value}}],
            "output": [{"type": "function_call_output", "output": secret_json}],
        },
    )
    trace.metadata.request_headers = {"x-echo": f"v={value}", "x-my-token": value}
    trace.metadata.response_headers = {"x-debug": value}
    trace.metadata.warnings = [f"could not parse chunk: {value}"]
    trace.metadata.error = TraceError(type="upstream_error", message=f"bad request: {value}")
    trace.metadata.upstream_url = "https://proxy:Sup3rS3cretPassw0rd@api.example.com/v1"
    return trace


@pytest.mark.parametrize("entry", CORPUS, ids=[f"{e['kind']}-{i}" for i, e in enumerate(CORPUS)])
def test_every_other_place_leaves_no_fragment(entry: dict[str, str]) -> None:
    value = entry["text"]
    trace = _places(value, json.dumps({"username": "bob", "password": entry["secret"]}))
    Redactor().redact_trace(trace)
    out = encoded(trace)
    baseline = encoded(_places("x", "{}"))
    assert leftovers(out, entry["secret"], baseline) == []
    assert "Sup3rS3cretPassw0rd" not in out
    assert "https://proxy:[PASSWORD_REDACTED]@api.example.com/v1" in out


def test_json_inside_strings_is_redacted_and_kept_valid() -> None:
    trace = make_trace()
    args = {"user": "bob", "password": "hunter2-horse", "api_key": "plain-value", "n": 3}
    trace.request["messages"] = [
        {"role": "assistant", "tool_calls": [{"function": {"arguments": json.dumps(args)}}]}
    ]
    report = Redactor().redact_trace(trace)
    redacted = json.loads(trace.request["messages"][0]["tool_calls"][0]["function"]["arguments"])
    assert redacted == {"user": "bob", "password": "[REDACTED]", "api_key": "[REDACTED]", "n": 3}
    assert report.entries() == [
        "request.messages[0].tool_calls[0].function.arguments: sensitive_keys"
    ]


def test_json_without_sensitive_keys_is_the_same_string() -> None:
    trace = make_trace()
    args = json.dumps({"city": "Paris", "max_tokens": 5})
    trace.request["messages"] = [{"role": "tool", "content": args}]
    Redactor().redact_trace(trace)
    assert trace.request["messages"][0]["content"] is args


def test_anthropic_tool_input_json_split_across_chunks() -> None:
    stream = DATA / "streams" / "anthropic-messages--stream-tool-use.sse"
    trace = build_trace(stream)
    pieces = [
        c.data["delta"]
        for c in trace.chunks
        if c.data and "partial_json" in c.data.get("delta", {})
    ]
    assert len(pieces) >= 4
    new = ['{"locati', 'on": "Paris", "pass', 'word": "hunter2-', 'horse-battery"}']
    for piece, text in zip(pieces, new + [""] * (len(pieces) - len(new)), strict=True):
        piece["partial_json"] = text
    Redactor().redact_trace(trace)
    joined = "".join(p["partial_json"] for p in pieces)
    assert "hunter2" not in joined and "horse-battery" not in joined
    assert joined == '{"location": "Paris", "password": "[REDACTED]"}'


def test_identifiers_are_not_joined_across_chunks() -> None:
    # Each id alone is clean; joined they would read as a 16-digit Visa number.
    trace = make_trace(streaming=True, text="ok")
    trace.chunks = [
        StreamChunk(index=i, delta_ms=1.0, offset_ms=1.0, data={"id": part, "x": "a"})
        for i, part in enumerate(["4111 1111", " 1111 1111"])
    ]
    assert Redactor().redact_trace(trace).fields == {}
