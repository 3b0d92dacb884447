"""The TUI's pure pieces: test file names, formatting, the conversation blocks."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from traceforge_shared.evals.files import TestFileExists, slugify, trace_test_stem
from traceforge_shared.evals.loader import load_test_file
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, TraceError
from traceforge_tui import formatting as fmt
from traceforge_tui.saving import save_test
from traceforge_tui.widgets.conversation import (
    answer_blocks,
    arguments_text,
    content_text,
    message_block,
)

# The filter language and stream timing are traceforge_shared.views (test_views_*.py there).


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
    assert slugify(text, 40) == slug


def test_slug_of_a_trace_without_user_text() -> None:
    trace = msgspec.structs.replace(make_trace(), id="12345678" * 3)
    assert trace_test_stem(trace) == "say-hello"
    parts = msgspec.structs.replace(
        trace,
        request={
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Look here"}]}],
        },
    )
    assert trace_test_stem(parts) == "look-here"
    silent = msgspec.structs.replace(trace, request={"model": "m", "messages": []})
    assert trace_test_stem(silent) == "trace-12345678"


def test_save_test_refuses_a_taken_name(tmp_path: Path) -> None:
    # The shared collision rule (as in the CLI and the API): a second save of the same
    # trace is refused, naming the existing file, which is left as it was.
    trace = make_trace()
    path = save_test(trace, tmp_path / "tests")
    assert path.name == "say-hello.yaml"
    assert load_test_file(path).source_trace == trace.id
    before = path.read_bytes()
    with pytest.raises(TestFileExists, match=r"say-hello\.yaml exists") as info:
        save_test(trace, tmp_path / "tests")
    assert info.value.path == path
    assert path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "tests").iterdir()) == ["say-hello.yaml"]


# -- formatting ----------------------------------------------------------------------------


def test_formatting() -> None:
    assert fmt.status("error", 0).plain == "error"
    assert fmt.status("error", 429).plain == "error 429"
    assert fmt.status("error", 429).style == "red"
    assert fmt.status("client_disconnected", 0).style == "yellow"
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
