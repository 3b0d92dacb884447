"""Tests of trace comparison (traceforge_shared.diff.diff_traces)."""

from __future__ import annotations

import copy
import time
from typing import Any

import msgspec
import pytest
from rapidfuzz import fuzz

from traceforge_shared.diff import (
    MAX_ENTRIES,
    DiffAdded,
    DiffChanged,
    DiffRemoved,
    DiffSide,
    TraceDiff,
    diff_traces,
)
from traceforge_shared.evals.fields import resolve_field
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, Trace, TraceError

BASE_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def base(**kwargs: Any) -> Trace:
    trace = make_trace(epoch_s=BASE_EPOCH, **kwargs)
    response = dict(trace.response, id="chatcmpl-aaa", created=1767225600)
    return msgspec.structs.replace(trace, response=response)


def edit(trace: Trace, **changes: Any) -> Trace:
    """A copy of ``trace`` (deep, so edits of request/response do not leak) with changes."""
    return msgspec.structs.replace(
        trace,
        request=copy.deepcopy(trace.request),
        response=copy.deepcopy(trace.response),
        **changes,
    )


def entries(diff: TraceDiff) -> tuple[list[Any], list[Any], list[Any]]:
    return (
        [(e.path, e.value) for e in diff.added],
        [(e.path, e.value) for e in diff.removed],
        [(e.path, e.from_, e.to) for e in diff.changed],
    )


def assert_paths_resolve(a: Trace, b: Trace, diff: TraceDiff) -> None:
    """Every path is a field path of the traces, holding the reported values."""
    for added in diff.added:
        assert resolve_field(b, added.path) == added.value
    for removed in diff.removed:
        assert resolve_field(a, removed.path) == removed.value
    for changed in diff.changed:
        assert resolve_field(a, changed.path) == changed.from_
        assert resolve_field(b, changed.path) == changed.to


def test_same_call_twice_has_no_differences() -> None:
    a = base(streaming=True, text="one two three")
    b = make_trace(epoch_s=BASE_EPOCH + 60, streaming=True, text="one two three", latency_ms=999.0)
    b = msgspec.structs.replace(
        b,
        response=dict(b.response, id="chatcmpl-bbb", created=1767225660),
        chunks=[msgspec.structs.replace(c, delta_ms=77.0, offset_ms=77.0) for c in b.chunks],
        metadata=msgspec.structs.replace(
            b.metadata,
            first_chunk_latency_ms=55.0,
            stream_duration_ms=123.0,
            request_headers={"user-agent": "x"},
            response_headers={"x-request-id": "req_1"},
        ),
    )
    assert a.id != b.id and a.timestamp != b.timestamp
    diff = diff_traces(a, b)
    assert entries(diff) == ([], [], [])
    assert diff.truncated is False
    assert diff.similarity == 1.0
    assert diff.answer_a == diff.answer_b == "one two three"


def test_changed_answer() -> None:
    a = base(text="The capital of France is Paris.")
    b = edit(a)
    b.response["choices"][0]["message"]["content"] = "Paris is the capital of France."
    diff = diff_traces(a, b)
    assert entries(diff) == (
        [],
        [],
        [
            (
                "response.choices[0].message.content",
                "The capital of France is Paris.",
                "Paris is the capital of France.",
            )
        ],
    )
    expected = fuzz.ratio("The capital of France is Paris.", "Paris is the capital of France.")
    assert diff.similarity == pytest.approx(expected / 100)
    assert 0 < diff.similarity < 1
    assert diff.answer_a == "The capital of France is Paris."
    assert diff.answer_b == "Paris is the capital of France."


def test_added_removed_and_changed_request_fields() -> None:
    a = base()
    a.request["temperature"] = 0.2
    a.request["tools"] = [{"type": "function", "function": {"name": "f"}}]
    b = edit(a)
    del b.request["temperature"]
    b.request["messages"].append({"role": "user", "content": "And again"})
    b.request["max_tokens"] = 100
    b.request["tools"][0]["function"]["name"] = "g"
    diff = diff_traces(a, b)
    assert entries(diff) == (
        [
            ("request.max_tokens", 100),
            ("request.messages[1]", {"role": "user", "content": "And again"}),
        ],
        [("request.temperature", 0.2)],
        [("request.tools[0].function.name", "f", "g")],
    )
    assert_paths_resolve(a, b, diff)
    # Swapped, added becomes removed.
    assert entries(diff_traces(b, a)) == (
        [("request.temperature", 0.2)],
        [
            ("request.max_tokens", 100),
            ("request.messages[1]", {"role": "user", "content": "And again"}),
        ],
        [("request.tools[0].function.name", "g", "f")],
    )


def test_model_status_and_error_are_compared() -> None:
    a = base(model="gpt-4o")
    b = base(model="gpt-4o-mini", status="upstream_error", status_code=502)
    b = msgspec.structs.replace(
        b,
        route="converted",
        response_model="gpt-4o-mini-2024-07-18",
        metadata=msgspec.structs.replace(
            b.metadata,
            error=TraceError(type="upstream_timeout", message="no answer in 60 s"),
            warnings=["slow"],
        ),
    )
    diff = diff_traces(a, b)
    added, removed, changed = entries(diff)
    assert added == [("metadata.warnings[0]", "slow")]
    assert removed == []
    assert changed == [
        (
            "metadata.error",
            None,
            {"type": "upstream_timeout", "message": "no answer in 60 s"},
        ),
        ("metadata.status", "success", "upstream_error"),
        ("metadata.status_code", 200, 502),
        ("model", "gpt-4o", "gpt-4o-mini"),
        ("request.model", "gpt-4o", "gpt-4o-mini"),
        ("response.model", "gpt-4o", "gpt-4o-mini"),
        ("response_model", None, "gpt-4o-mini-2024-07-18"),
        ("route", "openai", "converted"),
    ]
    assert_paths_resolve(a, b, diff)


def test_sides() -> None:
    a = base(model="gpt-4o", prompt_tokens=12, completion_tokens=3, latency_ms=250.5)
    a = msgspec.structs.replace(a, metadata=msgspec.structs.replace(a.metadata, cost_usd=0.01))
    b = base(streaming=True, status="error", status_code=500)
    b = msgspec.structs.replace(b, metadata=msgspec.structs.replace(b.metadata, usage=None))
    diff = diff_traces(a, b)
    assert diff.a == DiffSide(
        id=a.id,
        timestamp=a.timestamp,
        endpoint="/v1/chat/completions",
        status_code=200,
        provider="openai",
        model="gpt-4o",
        response_model=None,
        route="openai",
        status="success",
        streaming=False,
        latency_ms=250.5,
        first_chunk_latency_ms=None,
        prompt_tokens=12,
        completion_tokens=3,
        total_tokens=15,
        cost_usd=0.01,
    )
    assert (diff.b.status, diff.b.status_code) == ("error", 500)
    assert diff.b.streaming is True
    assert diff.b.first_chunk_latency_ms == 10.0
    assert (diff.b.prompt_tokens, diff.b.completion_tokens, diff.b.total_tokens) == (0, 0, 0)
    assert ("metadata.cost_usd", 0.01, None) in entries(diff)[2]


def test_numbers_differing_only_in_type_are_equal() -> None:
    a = base()
    a.request["temperature"] = 1
    b = edit(a)
    b.request["temperature"] = 1.0
    assert entries(diff_traces(a, b)) == ([], [], [])
    a.request["logit_bias"] = {"1": [1, 2.5], "2": 0}
    b.request["logit_bias"] = {"1": [1.0, 2.5], "2": 0.0}
    assert entries(diff_traces(a, b)) == ([], [], [])
    b.request["temperature"] = 1.5
    b.request["logit_bias"]["2"] = False
    assert entries(diff_traces(a, b))[2] == [
        ('request.logit_bias["2"]', 0, False),
        ("request.temperature", 1, 1.5),
    ]


def test_tool_call_ids_are_noise_but_arguments_are_not() -> None:
    a = base()
    a.response["choices"][0]["message"]["tool_calls"] = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    b = edit(a)
    b.response["choices"][0]["message"]["tool_calls"][0]["id"] = "call_2"
    assert entries(diff_traces(a, b)) == ([], [], [])
    b.response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"x": 1}'
    assert entries(diff_traces(a, b))[2] == [
        ("response.choices[0].message.tool_calls[0].function.arguments", "{}", '{"x": 1}')
    ]


def test_keys_that_are_not_names_are_quoted() -> None:
    a = base()
    a.request["extra_body"] = {"a b": 1, "x-y": 2, 'q"uote': 3, "0lead": 4}
    b = edit(a)
    b.request["extra_body"] = {"a b": 10, "x-y": 20, 'q"uote': 30, "0lead": 40}
    diff = diff_traces(a, b)
    assert [c.path for c in diff.changed] == [
        'request.extra_body["0lead"]',
        'request.extra_body["a b"]',
        'request.extra_body["q\\"uote"]',
        "request.extra_body.x-y",
    ]
    assert_paths_resolve(a, b, diff)


def test_list_indexes_sort_numerically() -> None:
    a = base()
    a.request["messages"] = [{"role": "user", "content": f"m{i}"} for i in range(12)]
    b = edit(a)
    for message in b.request["messages"]:
        message["content"] += "!"
    diff = diff_traces(a, b)
    assert [c.path for c in diff.changed] == [f"request.messages[{i}].content" for i in range(12)]


def test_missing_answers() -> None:
    a = msgspec.structs.replace(base(), response=None)
    b = msgspec.structs.replace(base(), response=None)
    diff = diff_traces(a, b)
    assert diff.similarity == 1.0
    assert diff.answer_a == diff.answer_b == ""
    c = base(text="Something")
    diff = diff_traces(a, c)
    assert diff.similarity == 0.0
    assert [(e.path, e.from_) for e in diff.changed] == [("response", None)]
    assert diff.changed[0].to == c.response
    error_body = msgspec.structs.replace(c, response={"error": {"message": "quota"}})
    assert diff_traces(error_body, c).similarity == 0.0


def test_non_json_bodies() -> None:
    a = msgspec.structs.replace(base(), request="plain text body")
    b = msgspec.structs.replace(base(), request="other text body")
    assert entries(diff_traces(a, b))[2] == [("request", "plain text body", "other text body")]


def test_lists_are_capped_at_max_entries() -> None:
    a = base()
    b = edit(a)
    for i in range(MAX_ENTRIES + 100):
        b.request[f"k{i:04d}"] = i
    diff = diff_traces(a, b)
    assert diff.truncated is True
    assert len(diff.added) == MAX_ENTRIES
    assert diff.added[0] == DiffAdded(path="request.k0000", value=0)
    assert diff.added[-1].path == f"request.k{MAX_ENTRIES - 1:04d}"
    assert diff.removed == []
    # Exactly the cap is not truncated.
    a2, b2 = base(), base()
    for i in range(MAX_ENTRIES):
        a2.request[f"k{i}"] = i
    assert diff_traces(a2, b2).truncated is False
    assert len(diff_traces(a2, b2).removed) == MAX_ENTRIES


def test_values_are_whole() -> None:
    a = base(text="x" * 100_000)
    b = base(text="y" * 100_000)
    (changed,) = diff_traces(a, b).changed
    assert changed == DiffChanged(
        path="response.choices[0].message.content", from_="x" * 100_000, to="y" * 100_000
    )


def test_json_shape() -> None:
    a = base()
    a.request["temperature"] = 0.5
    b = edit(a, model="other")
    b.request["top_p"] = 0.9
    del b.request["temperature"]
    doc = msgspec.json.decode(msgspec.json.encode(diff_traces(a, b)))
    assert list(doc) == [
        "a",
        "b",
        "added",
        "removed",
        "changed",
        "truncated",
        "similarity",
        "answer_a",
        "answer_b",
    ]
    assert list(doc["a"]) == [  # a TraceSummary, then what only a diff side has
        "id",
        "timestamp",
        "provider",
        "model",
        "endpoint",
        "status",
        "status_code",
        "streaming",
        "latency_ms",
        "first_chunk_latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_usd",
        "route",
        "session_id",
        "tags",
        "source",
        "response_model",
    ]
    assert doc["added"] == [{"path": "request.top_p", "value": 0.9}]
    assert doc["removed"] == [{"path": "request.temperature", "value": 0.5}]
    assert doc["changed"] == [{"path": "model", "from": "gpt-4o-mini", "to": "other"}]
    assert DiffRemoved(path="p", value=1) == msgspec.convert({"path": "p", "value": 1}, DiffRemoved)


def streamed(words: list[str], **kwargs: Any) -> Trace:
    trace = make_trace(epoch_s=BASE_EPOCH, streaming=True, text=" ".join(words), **kwargs)
    assert len(trace.chunks) == len(words)
    return trace


def test_chunks_are_not_diffed_and_300_chunk_streams_are_fast() -> None:
    words = [f"word{i}" for i in range(300)]
    a = streamed(words)
    changed = words[:]
    changed[100:103] = ["three", "new", "words"]
    b = streamed(changed, model="gpt-4o")
    b = msgspec.structs.replace(
        b, chunks=[*b.chunks, StreamChunk(index=300, delta_ms=1, offset_ms=1, raw="[DONE]")]
    )
    diff = diff_traces(a, b)
    paths = [e.path for e in diff.added] + [e.path for e in diff.removed]
    assert not any(path.startswith("chunks") for path in paths)
    assert [c.path for c in diff.changed] == [
        "model",
        "request.model",
        "response.choices[0].message.content",
        "response.model",
    ]
    assert diff.similarity == pytest.approx(fuzz.ratio(" ".join(words), " ".join(changed)) / 100)
    best = min(_timed(lambda: diff_traces(a, b)) for _ in range(5))
    assert best < 0.1, f"diff of two 300-chunk traces took {best * 1000:.1f} ms"


def _timed(func: Any) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def test_key_order_is_not_a_difference_but_a_boolean_for_a_number_is() -> None:
    a = base()
    a.request["response_format"] = {"type": "json_schema", "strict": True, "n": 1}
    b = edit(a)
    b.request["response_format"] = {"n": 1, "strict": True, "type": "json_schema"}
    assert entries(diff_traces(a, b)) == ([], [], [])
    b.request["response_format"] = {"type": "json_schema", "strict": 1, "n": 1}
    assert entries(diff_traces(a, b))[2] == [("request.response_format.strict", True, 1)]


def test_equal_items_keep_their_positions() -> None:
    a = base()
    a.request["messages"] = [{"role": "user", "content": c} for c in ("a", "b", "c")]
    a.request["stop"] = ["x", "y", "z"]
    b = edit(a)
    b.request["messages"][2]["content"] = "C"
    b.request["messages"].append({"role": "user", "content": "d"})
    b.request["stop"] = ["x", "new", "y", "z"]
    diff = diff_traces(a, b)
    assert entries(diff) == (
        [
            ("request.messages[3]", {"role": "user", "content": "d"}),
            ("request.stop[1]", "new"),  # plain values are aligned
        ],
        [],
        [("request.messages[2].content", "c", "C")],
    )
    assert_paths_resolve(a, b, diff)
