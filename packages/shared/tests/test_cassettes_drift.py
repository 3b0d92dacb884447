"""Answer summaries of recorded provider streams and the drift classification between two
recordings (traceforge_shared.cassettes.answer / .drift / .usage), over the real
transcripts in tests/data/streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traceforge_shared.cassettes import (
    Cassette,
    CassetteError,
    Interaction,
    Read,
    RecordedRequest,
    RecordedResponse,
)
from traceforge_shared.cassettes.answer import summarize
from traceforge_shared.cassettes.drift import (
    SIMILARITY_THRESHOLD,
    classify,
    drift_report,
    length_class,
)
from traceforge_shared.cassettes.usage import ReplayUsage, read_usage, write_usage

STREAMS = Path(__file__).parent / "data" / "streams"
PATHS = {
    "openai-chat": ("openai", "/v1/chat/completions"),
    "xai": ("xai", "/xai/v1/chat/completions"),
    "anthropic-messages": ("anthropic", "/anthropic/v1/messages"),
    "gemini": ("gemini", "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
    "ollama": ("ollama", "/ollama/api/chat"),
    "cohere": ("cohere", "/cohere/v2/chat"),
    "openai-responses": ("openai", "/v1/responses"),
}


def interaction(
    name: str,
    data: bytes | None = None,
    *,
    split: int = 0,
    prompt: str = "hi",
    seq: int = 1,
) -> Interaction:
    """An interaction answering with transcript ``name`` (or ``data`` in its format), its
    bytes as one read per SSE event / NDJSON line, or in ``split``-byte reads."""
    provider, endpoint = PATHS[name.split("--")[0]]
    body = data if data is not None else (STREAMS / name).read_bytes()
    if split:
        parts = [body[i : i + split] for i in range(0, len(body), split)]
    else:
        sep = b"\n" if name.endswith(".ndjson") else b"\n\n"
        parts = [p + sep for p in body.split(sep) if p]
    return Interaction(
        seq=seq,
        key="",
        request=RecordedRequest(
            method="POST",
            endpoint=endpoint,
            provider=provider,
            model="m",
            upstream_path=endpoint.split("/", 2)[2] if endpoint.count("/") > 2 else endpoint,
            body={"model": "m", "messages": [{"role": "user", "content": prompt}]},
        ),
        response=RecordedResponse(
            status=200,
            stream=True,
            reads=[Read.of(p, 10.0 * n) for n, p in enumerate(parts)],
        ),
    )


def json_answer(content: str, prompt: str = "hi") -> Interaction:
    """An OpenAI chat completion (JSON, not streamed) answering ``content``."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    return Interaction(
        seq=1,
        key="",
        request=RecordedRequest(
            method="POST",
            endpoint="/v1/chat/completions",
            provider="openai",
            body={"model": "m", "messages": [{"role": "user", "content": prompt}]},
        ),
        response=RecordedResponse(status=200, body=json.dumps(body)),
    )


@pytest.mark.parametrize(
    ("name", "text_start", "tools", "finish"),
    [
        ("anthropic-messages--stream-text.sse", "Hello! I'm doing well", [], "end_turn"),
        (
            "anthropic-messages--stream-tool-use.sse",
            "I'll check the current weather in Paris",
            [("get_weather", ("location",))],
            "tool_use",
        ),
        (
            "cohere--chat-stream-tool-call.sse",
            "",
            [("weather", ("location",)), ("cityAttractions", ("city",))],
            "TOOL_CALL",
        ),
        ("cohere--chat-stream.sse", "The capital of France is Paris.", [], "COMPLETE"),
        ("gemini--stream-function-call.sse", "", [("weather", ("location",))], "STOP"),
        ("gemini--stream-text.sse", 'There are **3** "r"s', [], "STOP"),
        ("ollama--chat-stream.ndjson", "The sky appears blue", [], "stop"),
        (
            "openai-chat--stream-parallel-tool-calls.sse",
            "",
            [
                ("GetWeatherArgs", ("city", "country", "units")),
                ("get_stock_price", ("exchange", "ticker")),
            ],
            "tool_calls",
        ),
        ("openai-chat--stream-text-usage.sse", "I'm unable to provide real-time", [], "stop"),
        (
            "openai-chat--stream-tool-calls.sse",
            "",
            [("get_weather", ("city", "state"))],
            "tool_calls",
        ),
        ("openai-responses--stream-text.sse", "Dummy PDF file", [], "completed"),
        ("xai--chat-stream-tool-call.sse", "", [("weather", ("location",))], "tool_calls"),
    ],
)
def test_summary_of_each_wire_format(
    name: str, text_start: str, tools: list[tuple[str, tuple[str, ...]]], finish: str
) -> None:
    summary = summarize(interaction(name))
    assert summary.text.startswith(text_start)
    assert bool(summary.text) == bool(text_start)
    assert [(c.name, c.argument_keys) for c in summary.tool_calls] == tools
    assert summary.finish_reason == finish
    # read boundaries do not matter: 7-byte reads split events and UTF-8 characters
    assert summarize(interaction(name, split=7)) == summary


def test_identical_recordings_whatever_the_read_boundaries() -> None:
    name = "openai-chat--stream-tool-calls.sse"
    result = classify(summarize(interaction(name)), summarize(interaction(name, split=13)))
    assert (result.verdict, result.reasons) == ("identical", ())


def test_reworded_text_is_benign() -> None:
    name = "anthropic-messages--stream-text.sse"
    data = (STREAMS / name).read_bytes()
    assert b" well" in data
    reworded = data.replace(b" well", b" fine", 1)
    result = classify(summarize(interaction(name)), summarize(interaction(name, reworded)))
    assert result.verdict == "benign"
    assert SIMILARITY_THRESHOLD <= result.similarity < 1
    assert result.reasons[0].startswith("reworded")


def test_changed_tool_name_is_a_regression() -> None:
    name = "openai-chat--stream-tool-calls.sse"
    data = (STREAMS / name).read_bytes().replace(b'"get_weather"', b'"get_forecast"')
    result = classify(summarize(interaction(name)), summarize(interaction(name, data)))
    assert result.verdict == "regression"
    assert "tool calls: ['get_weather'] -> ['get_forecast']" in result.reasons


def test_changed_argument_names_are_a_regression_other_values_benign() -> None:
    name = "gemini--stream-function-call.sse"
    data = (STREAMS / name).read_bytes()
    renamed = data.replace(b'"location"', b'"place"')
    values = data.replace(b'"San Francisco"', b'"Oakland"')
    before = summarize(interaction(name))
    assert classify(before, summarize(interaction(name, renamed))).reasons == (
        "tool call weather arguments: ['location'] -> ['place']",
    )
    other = classify(before, summarize(interaction(name, values)))
    assert (other.verdict, other.reasons) == (
        "benign",
        ("tool call weather: other argument values",),
    )


def test_changed_finish_reason_is_a_regression() -> None:
    name = "anthropic-messages--stream-text.sse"
    data = (STREAMS / name).read_bytes()
    assert b'"stop_reason":"end_turn"' in data
    cut = data.replace(b'"stop_reason":"end_turn"', b'"stop_reason":"max_tokens"')
    result = classify(summarize(interaction(name)), summarize(interaction(name, cut)))
    assert result.reasons == ('finish reason: "end_turn" -> "max_tokens"',)


def test_json_answers_shape_decides() -> None:
    before = summarize(json_answer('{"city": "Paris", "temp_c": 21}'))
    same_keys = classify(before, summarize(json_answer('{"city": "Lyon", "temp_c": 25}')))
    assert (same_keys.verdict, same_keys.reasons) == ("benign", ("JSON values changed, same keys",))
    other_keys = classify(before, summarize(json_answer('{"city": "Paris", "temp_f": 70}')))
    assert other_keys.verdict == "regression"
    assert other_keys.reasons[0] == "JSON keys: added ['temp_f'], removed ['temp_c']"
    to_text = classify(before, summarize(json_answer("It is 21 C in Paris.")))
    assert to_text.reasons[0] == "answer: JSON -> text"


def test_length_class_and_unrecognizable_text() -> None:
    assert [length_class("a" * n) for n in (10, 500, 5000)] == ["short", "medium", "long"]
    short = summarize(json_answer("Paris is the capital of France."))
    long = summarize(json_answer("Paris is the capital of France. " * 20))
    grown = classify(short, long)
    assert grown.verdict == "regression"
    assert grown.reasons[0].startswith("length: short -> medium")
    other = classify(short, summarize(json_answer("No idea, sorry about that!!")))
    assert other.verdict == "regression"
    assert other.reasons[0].startswith("text similarity")


def test_report_pairs_by_request_and_sets_the_exit_code() -> None:
    text = "anthropic-messages--stream-text.sse"
    tool = "openai-chat--stream-tool-calls.sse"
    reworded = (STREAMS / text).read_bytes().replace(b" well", b" fine", 1)
    before = [("a/1", interaction(text, prompt="one")), ("a/2", interaction(tool, prompt="two"))]
    # recorded in another order, with another read size: paired by request, not position
    same = [
        ("b/1", interaction(tool, prompt="two", split=50)),
        ("b/2", interaction(text, prompt="one")),
    ]
    report = drift_report(before, same)
    assert [(e.before, e.after, e.verdict) for e in report.entries] == [
        ("a/2", "b/1", "identical"),
        ("a/1", "b/2", "identical"),
    ]
    assert report.exit_code == 0
    benign = drift_report(before, [before[1], ("b/2", interaction(text, reworded, prompt="one"))])
    assert (benign.exit_code, benign.counts) == (1, {"identical": 1, "benign": 1, "regression": 0})
    changed = drift_report(before, [before[1], ("b/3", interaction(text, prompt="ONE"))])
    assert changed.exit_code == 2
    assert [
        (e.before, e.after, e.reasons) for e in changed.entries if e.verdict == "regression"
    ] == [
        (None, "b/3", ("request not in the first recording",)),
        ("a/1", None, ("request not in the second recording",)),
    ]
    assert json.loads(json.dumps(changed.to_json()))["exit_code"] == 2


def test_usage_file_round_trip_and_errors(tmp_path: Path) -> None:
    cassette = Cassette("suite/test_one", tmp_path)
    usage = ReplayUsage(cassette=cassette.name, finished_at="2026-12-04T00:00:00.000000Z")
    write_usage(cassette, usage)  # no directory yet: nothing written
    assert read_usage(cassette) is None
    cassette.add(interaction("openai-chat--stream-tool-calls.sse"))
    usage.used, usage.unused = ["0001-x.yaml"], ["0002-y.yaml"]
    write_usage(cassette, usage)
    assert read_usage(cassette) == usage
    assert len(cassette.files()) == 1  # the usage file is not an interaction
    (cassette.path / ".last-replay.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CassetteError, match="not a replay usage record"):
        read_usage(cassette)
