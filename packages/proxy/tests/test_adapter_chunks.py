"""Tests of the one chunk builder (traceforge_proxy.providers.chunks) and of the chunks the
four stream converters build with it.

Every chunk every converter produces from every recorded provider stream (the test fixtures in
data/provider-streams and the mock upstream's transcripts) must have exactly the key set of the
same kind of chunk in a real OpenAI stream (data/provider-streams/openai-chat), leaving out the
head keys only OpenAI can fill (``system_fingerprint``, ``service_tier``, ``obfuscation``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.providers import adapter_for
from traceforge_proxy.providers.base import delta_chunk as base_delta_chunk
from traceforge_proxy.providers.chunks import ChunkBuilder, delta_chunk, tool_call
from traceforge_proxy.sse import SSEEvent, SSEParser

DATA = Path(__file__).parent / "data" / "provider-streams"
MOCK_DATA = Path(__file__).parents[1] / "src" / "traceforge_proxy" / "mock_upstream" / "data"
#: Head keys a converter cannot know: OpenAI's own (the provider sends no such values).
OPENAI_ONLY = {"system_fingerprint", "service_tier", "obfuscation"}
#: Tool-call keys beyond OpenAI's: Gemini's thought signature, as Google's OpenAI endpoint
#: sends it (``extra_content.google.thought_signature``).
EXTENSIONS = {"extra_content"}
#: provider -> the transcript folders holding its streams.
FOLDERS = {
    "anthropic": (DATA / "anthropic-messages", MOCK_DATA / "anthropic"),
    "gemini": (DATA / "gemini", MOCK_DATA / "gemini"),
    "cohere": (DATA / "cohere", MOCK_DATA / "cohere"),
    "ollama": (DATA / "ollama", MOCK_DATA / "ollama"),
}
STREAMS = [
    (provider, path)
    for provider, folders in FOLDERS.items()
    for folder in folders
    for path in sorted(folder.iterdir())
    if path.suffix in (".sse", ".ndjson")
]


# -- helpers -------------------------------------------------------------------------------------


def framed(path: Path) -> list[SSEEvent]:
    parser: SSEParser | NDJSONParser = NDJSONParser() if path.suffix == ".ndjson" else SSEParser()
    return parser.feed(path.read_bytes()) + parser.close()


def payloads(path: Path) -> list[tuple[str | None, Any]]:
    """``(event name, decoded data)`` of each event of a transcript, ``[DONE]`` left out."""
    return [
        (event.event, msgspec.json.decode(event.data))
        for event in framed(path)
        if event.data is not None and event.data.strip() and event.data != b"[DONE]"
    ]


def kind(chunk: dict[str, Any]) -> str:
    """``error``, ``usage`` (``"choices": []``), ``tool_start``, ``tool_args`` or ``delta``."""
    if "error" in chunk:
        return "error"
    if chunk["choices"] == []:
        return "usage"
    calls = chunk["choices"][0]["delta"].get("tool_calls")
    if calls:
        return "tool_start" if "id" in calls[0] else "tool_args"
    return "delta"


def shape(chunk: dict[str, Any]) -> dict[str, frozenset[str]]:
    """The key sets that make a chunk's shape: the chunk's (OpenAI-only head keys left out),
    the choice's, the error's, the tool call's and its function's."""
    keys = {"chunk": frozenset(chunk) - OPENAI_ONLY}
    if "error" in chunk:
        keys["error"] = frozenset(chunk["error"])
    if chunk.get("choices"):
        choice = chunk["choices"][0]
        keys["choice"] = frozenset(choice)
        for call in choice["delta"].get("tool_calls") or []:
            keys["tool_call"] = frozenset(call) - EXTENSIONS
            keys["function"] = frozenset(call["function"])
    return keys


def openai_chunks(name: str) -> Iterator[dict[str, Any]]:
    for _, payload in payloads(DATA / "openai-chat" / name):
        yield payload


def reference() -> dict[tuple[bool, str], dict[str, frozenset[str]]]:
    """``(include_usage, kind)`` -> the key sets of that kind of chunk in real OpenAI streams:
    the 2026 stream asked for usage (``"usage": null`` on every chunk), the 2024 tool-call
    streams did not."""
    shapes: dict[tuple[bool, str], dict[str, frozenset[str]]] = {}
    sources = [
        (True, "stream-text-usage-2026.sse"),
        (False, "stream-tool-calls.sse"),
        (False, "stream-parallel-tool-calls.sse"),
    ]
    for include_usage, name in sources:
        for chunk in openai_chunks(name):
            shapes.setdefault((include_usage, kind(chunk)), shape(chunk))
    error = msgspec.json.decode((DATA / "openai-chat" / "error-429-rate-limit.json").read_bytes())
    for include_usage in (True, False):
        shapes[(include_usage, "error")] = shape(error)
        # a tool call streamed with usage: the 2026 stream has none, so its head + the
        # tool-call keys of the 2024 stream
        for tool_kind in ("tool_start", "tool_args"):
            tool = dict(shapes[(False, tool_kind)])
            tool["chunk"] = shapes[(True, "delta")]["chunk"]
            shapes[(True, tool_kind)] = tool
    return shapes


REFERENCE = reference()


def convert(provider: str, path: Path, include_usage: bool) -> list[dict[str, Any]]:
    adapter = adapter_for(provider)
    assert adapter is not None
    converter = adapter.stream_converter(model="m", created=1, include_usage=include_usage)
    chunks = [c for event, data in payloads(path) for c in converter.feed(event, data)]
    return chunks + converter.close()


# -- the reference itself ------------------------------------------------------------------------


def test_reference_is_openai_chunk_shape() -> None:
    """What the OpenAI recordings say, spelled out (so a bad fixture cannot pass silently)."""
    head = {"id", "object", "created", "model", "choices"}
    assert REFERENCE[(False, "delta")]["chunk"] == head
    assert REFERENCE[(True, "delta")]["chunk"] == head | {"usage"}
    assert REFERENCE[(True, "usage")]["chunk"] == head | {"usage"}
    assert REFERENCE[(False, "delta")]["choice"] == {"index", "delta", "logprobs", "finish_reason"}
    assert REFERENCE[(False, "tool_start")]["tool_call"] == {"index", "id", "type", "function"}
    assert REFERENCE[(False, "tool_start")]["function"] == {"name", "arguments"}
    assert REFERENCE[(False, "tool_args")]["tool_call"] == {"index", "function"}
    assert REFERENCE[(False, "tool_args")]["function"] == {"arguments"}
    assert REFERENCE[(True, "error")]["error"] == {"message", "type", "param", "code"}


# -- every converter, every transcript -----------------------------------------------------------


@pytest.mark.parametrize("include_usage", [False, True], ids=["no-usage", "include-usage"])
@pytest.mark.parametrize(
    ("provider", "path"),
    STREAMS,
    ids=[f"{p}:{path.parent.name}/{path.name}" for p, path in STREAMS],
)
def test_every_chunk_has_openai_keys(provider: str, path: Path, include_usage: bool) -> None:
    chunks = convert(provider, path, include_usage)
    assert chunks, "the transcript produced no chunk"
    for n, chunk in enumerate(chunks):
        expected = REFERENCE[(include_usage, kind(chunk))]
        assert shape(chunk) == expected, f"chunk {n} ({kind(chunk)}): {chunk}"


def test_streams_cover_every_provider_and_kind() -> None:
    """The parametrized test above sees each provider and each chunk kind somewhere."""
    assert {provider for provider, _ in STREAMS} == set(FOLDERS)
    kinds = {
        kind(chunk)
        for provider, path in STREAMS
        for chunk in convert(provider, path, include_usage=True)
    }
    assert kinds == {"delta", "tool_start", "tool_args", "usage", "error"}


def test_anthropic_chunks_carry_logprobs() -> None:
    """The unification's visible change: Anthropic choices gain ``"logprobs": null``."""
    chunks = convert("anthropic", DATA / "anthropic-messages" / "stream-text.sse", False)
    assert all(chunk["choices"][0]["logprobs"] is None for chunk in chunks)


# -- the builder ---------------------------------------------------------------------------------


def builder(**options: Any) -> ChunkBuilder:
    return ChunkBuilder(id="c1", model="m", created=7, include_usage=False, **options)


def test_head_and_system_fingerprint() -> None:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m"}
    assert builder().head() == head
    assert builder(system_fingerprint="fp_1").head() == {**head, "system_fingerprint": "fp_1"}


def test_delta_kinds() -> None:
    chunks = builder()
    assert chunks.role("")["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
         "finish_reason": None}
    ]  # fmt: skip
    assert chunks.text("hi")["choices"][0]["delta"] == {"content": "hi"}
    assert chunks.reasoning("hm")["choices"][0]["delta"] == {"reasoning_content": "hm"}
    assert chunks.tool_call_start(1, "call_1", "f")["choices"][0]["delta"] == {
        "tool_calls": [
            {"index": 1, "id": "call_1", "type": "function",
             "function": {"name": "f", "arguments": ""}}
        ]
    }  # fmt: skip
    assert chunks.tool_arguments(1, '{"a"')["choices"][0]["delta"] == {
        "tool_calls": [{"index": 1, "function": {"arguments": '{"a"'}}]
    }
    finish = chunks.finish("stop", index=2)["choices"][0]
    assert (finish["index"], finish["delta"], finish["finish_reason"]) == (2, {}, "stop")


def test_pending_role_goes_on_the_first_delta_only() -> None:
    chunks = builder(role_pending=True)
    assert chunks.role_pending
    assert chunks.text("a")["choices"][0]["delta"] == {"role": "assistant", "content": "a"}
    assert not chunks.role_pending
    assert chunks.text("b")["choices"][0]["delta"] == {"content": "b"}


def test_usage_null_on_deltas_and_the_usage_chunk() -> None:
    chunks = ChunkBuilder(id="c1", model="m", created=7, include_usage=True)
    assert chunks.text("a")["usage"] is None
    assert "usage" not in builder().text("a")
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert chunks.usage(usage) == {**chunks.head(), "choices": [], "usage": usage}


def test_id_and_model_can_change_mid_stream() -> None:
    chunks = builder()
    chunks.id, chunks.model = "msg_1", "claude-x"
    chunk = chunks.text("a")
    assert (chunk["id"], chunk["model"]) == ("msg_1", "claude-x")


def test_delta_chunk_is_the_base_name_and_tool_call_shape() -> None:
    assert base_delta_chunk is delta_chunk
    assert delta_chunk({"id": "x"}, {}, "stop", True, index=3) == {
        "id": "x",
        "choices": [{"index": 3, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
        "usage": None,
    }
    assert tool_call("i", "n", "{}") == {
        "id": "i",
        "type": "function",
        "function": {"name": "n", "arguments": "{}"},
    }
