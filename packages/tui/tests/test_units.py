"""The TUI's pure pieces: the filter language, stream timing, test file names, formatting,
the conversation blocks."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, TraceError
from traceforge_tui import formatting as fmt
from traceforge_tui.query import Query, QueryError, parse_query
from traceforge_tui.saving import save_test, slugify, test_slug
from traceforge_tui.timing import due_times, gap_stats, percentile
from traceforge_tui.widgets.conversation import (
    answer_blocks,
    arguments_text,
    content_text,
    message_block,
)

# -- the filter language -------------------------------------------------------------------


def test_parse_fields_and_words() -> None:
    query = parse_query("model:gpt-4o provider:anthropic status:ERROR type:stream rate limit")
    assert query == Query(
        model="gpt-4o",
        provider="anthropic",
        status="error",
        streaming=True,
        words=("rate", "limit"),
    )
    assert query.text == "rate limit"
    filters = query.to_filter()
    assert (filters.model, filters.provider, filters.status, filters.streaming, filters.q) == (
        "gpt-4o",
        "anthropic",
        "error",
        True,
        "rate limit",
    )
    assert str(query) == "model:gpt-4o provider:anthropic status:error type:stream rate limit"
    assert parse_query(str(query)) == query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Query()),
        ("   ", Query()),
        ("type:normal", Query(streaming=False)),
        ("stream:yes", Query(streaming=True)),
        ('model:"my model" hello', Query(model="my model", words=("hello",))),
        ("url:http://x hello", Query(words=("url:http://x", "hello"))),
        ("model: x", Query(words=("model:", "x"))),
        ('say "hi there', Query(words=("say", '"hi', "there"))),  # unbalanced quote
    ],
)
def test_parse_edge_cases(text: str, expected: Query) -> None:
    assert parse_query(text) == expected


def test_empty_query() -> None:
    assert Query().is_empty
    assert Query().text is None
    assert not Query(words=("x",)).is_empty
    assert str(Query(model="my model")) == "model:'my model'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status:broken", "unknown status 'broken'"),
        ("type:sometimes", "unknown type 'sometimes'"),
    ],
)
def test_invalid_queries(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


# -- stream timing -------------------------------------------------------------------------


def chunks_with(deltas: list[float]) -> list[StreamChunk]:
    offset, chunks = 0.0, []
    for i, delta in enumerate(deltas):
        offset += delta
        chunks.append(StreamChunk(index=i, delta_ms=delta, offset_ms=offset))
    return chunks


def test_percentile() -> None:
    assert percentile([], 0.95) == 0.0
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_gap_stats() -> None:
    even = gap_stats(chunks_with([300.0, *[10.0] * 20]))
    assert even.p95_ms == 10.0
    assert even.slow == frozenset()  # an even stream has no slow gap; the first is TTFT
    bumpy = gap_stats(chunks_with([300.0, *[10.0] * 20, 500.0, 10.0, 400.0]))
    assert bumpy.p95_ms == 400.0
    assert bumpy.slow == {21, 23}
    assert gap_stats([]).slow == frozenset()
    assert gap_stats(chunks_with([5.0, 50.0])) == gap_stats(chunks_with([7.0, 50.0]))


def test_due_times() -> None:
    assert due_times(chunks_with([100.0, 10.0, -5.0, 20.0])) == [100.0, 110.0, 110.0, 130.0]
    assert due_times([]) == []


# -- test files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("What is the capital of France?", "what-is-the-capital-of-france"),
        ("  Ça   va, Zoë?  ", "ca-va-zoe"),
        ("!!!", ""),
        ("a" * 50, "a" * 40),
        (
            "one two three four five six seven eight nine ten",
            "one-two-three-four-five-six-seven-eight",
        ),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slug_of_a_trace_without_user_text() -> None:
    trace = msgspec.structs.replace(make_trace(), id="12345678" * 3)
    assert test_slug(trace) == "say-hello"
    parts = msgspec.structs.replace(
        trace,
        request={
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Look here"}]}],
        },
    )
    assert test_slug(parts) == "look-here"
    silent = msgspec.structs.replace(trace, request={"model": "m", "messages": []})
    assert test_slug(silent) == "trace-12345678"


def test_save_test_numbers_taken_names(tmp_path: Path) -> None:
    trace = make_trace()
    paths = [save_test(trace, tmp_path / "tests") for _ in range(3)]
    assert [p.name for p in paths] == ["say-hello.yaml", "say-hello-2.yaml", "say-hello-3.yaml"]
    assert load_test_file(paths[2]).source_trace == trace.id


# -- formatting ----------------------------------------------------------------------------


def test_formatting() -> None:
    assert fmt.milliseconds(None) == "-"
    assert fmt.milliseconds(1234.5) == "1,234"
    assert fmt.tokens(0) == "-"
    assert fmt.cost(None) == "-"
    assert fmt.cost(0.5) == "$0.500000"
    assert fmt.status("error", 0).plain == "error"
    assert fmt.local_time("not a time") == "not a time"
    assert fmt.one_line("a\nb\r\nc\td") == "a⏎b⏎c d"
    assert fmt.one_line("x" * 100, 10) == "x" * 9 + "…"
    assert fmt.chunk_preview(StreamChunk(index=0, delta_ms=0, offset_ms=0, raw="[DONE]")).plain == (
        "[DONE]"
    )
    assert fmt.chunk_preview(StreamChunk(index=0, delta_ms=0, offset_ms=0)).plain == "(no text)"


# -- conversation blocks -------------------------------------------------------------------


def test_content_parts_and_odd_messages() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio"},
        "plain",
    ]
    assert content_text(parts).plain == (
        "What is this?\n[image https://example.com/cat.png]\n[input_audio]\nplain"
    )
    assert content_text({"a": 1}).plain == '{\n  "a": 1\n}'
    assert message_block("odd").kind == "note"
    developer = message_block({"role": "developer", "name": "boss", "content": "Be brief"})
    assert (developer.kind, developer.title) == ("system", "developer · boss")
    legacy = message_block(
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}
    )
    assert legacy.body.plain == "→ f\n{}"
    assert message_block({"role": "user", "content": ""}).body.plain == "(empty)"
    assert arguments_text("not json") == "not json"


def test_answers_without_choices() -> None:
    nothing = msgspec.structs.replace(make_trace(), response=None)
    assert answer_blocks(nothing)[0].body.plain == "No answer was recorded."
    body_error = msgspec.structs.replace(make_trace(), response={"error": {"message": "boom"}})
    assert answer_blocks(body_error)[0].kind == "error"
    failed = msgspec.structs.replace(
        make_trace(),
        response=None,
        metadata=msgspec.structs.replace(
            make_trace().metadata, error=TraceError(type="upstream_timeout", message="slow")
        ),
    )
    assert answer_blocks(failed)[0].body.plain == "upstream_timeout: slow"
    embedding = msgspec.structs.replace(make_trace(), response={"data": []})
    assert answer_blocks(embedding)[0].body.plain == "Not a chat completion: see the Response tab."
    two = make_trace()
    two.response["choices"].append(two.response["choices"][0])
    assert answer_blocks(two)[0].title == "answer · finish: stop · 1 of 2 choices"
