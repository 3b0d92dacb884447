"""One usage model: every provider's usage read into ``Usage`` (``traceforge_shared.usage``),
priced from all its counts (``traceforge_shared.cost``) and shown the same everywhere
(``traceforge_shared.views.units``).

The usage objects are taken from the real recorded transcripts in
``/work/shared/fixtures/provider-streams`` (copies in ``packages/proxy/tests/data``); the
xAI recordings carry xAI's own bill (``cost_in_usd_ticks``, 1e-10 USD), which the priced
cost must equal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from traceforge_shared.cost import cost_usd
from traceforge_shared.testing import make_trace
from traceforge_shared.token_estimate import estimate_usage
from traceforge_shared.trace import Usage
from traceforge_shared.usage import (
    chunk_usage,
    openai_usage,
    usage_from,
    usage_from_anthropic,
    usage_from_cohere,
    usage_from_gemini,
    usage_from_ollama,
    usage_from_openai,
    usage_from_responses,
)
from traceforge_shared.views.units import cost_sum_text, cost_text, usage_text

STREAMS = Path(__file__).parents[2] / "proxy" / "tests" / "data" / "provider-streams"


def sse_payloads(name: str) -> list[Any]:
    """The JSON ``data:`` payloads of a recorded SSE transcript, in order."""
    payloads = []
    for line in (STREAMS / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            payloads.append(json.loads(line[5:]))
    return payloads


def last_usage(name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        p["usage"] for p in sse_payloads(name) if isinstance(p.get("usage"), dict)
    ]
    return found[-1]


@pytest.mark.parametrize(
    ("name", "prompt", "completion", "reasoning", "cached"),
    [
        ("xai/chat-stream-reasoning.sse", 12, 1 + 290, 290, 11),
        ("xai/chat-stream-tool-call.sse", 291, 26 + 196, 196, 290),
    ],
)
def test_grok_reasoning_tokens_count_as_output_and_the_cost_is_xais_own(
    name: str, prompt: int, completion: int, reasoning: int, cached: int
) -> None:
    raw = last_usage(name)
    usage = usage_from_openai(raw)
    assert usage == Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=raw["total_tokens"],
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )
    # The displayed counts add up: prompt + completion is the provider's total.
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens
    trace = make_trace(model="grok-3-mini", provider="xai")
    trace.metadata.usage = usage
    billed = raw["cost_in_usd_ticks"] / 1e10  # xAI's bill for this call
    assert cost_usd(trace) == pytest.approx(billed, rel=1e-9)


def test_openai_details_are_parts_of_the_counts() -> None:
    raw = last_usage("openai-chat/stream-text-usage-2026.sse")
    usage = usage_from_openai(raw)
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        raw["prompt_tokens"],
        raw["completion_tokens"],
    )
    assert usage.cache_read_tokens == raw["prompt_tokens_details"]["cached_tokens"]
    assert usage.reasoning_tokens == raw["completion_tokens_details"]["reasoning_tokens"]
    assert usage.total_tokens == raw["total_tokens"]
    body = json.loads((STREAMS / "openai-chat/completion.json").read_text(encoding="utf-8"))
    whole = usage_from_openai(body["usage"])
    assert whole is not None and whole.total_tokens == body["usage"]["total_tokens"]


def test_anthropic_cache_counts_are_added_to_the_prompt() -> None:
    (start,) = [
        p
        for p in sse_payloads("anthropic-messages/stream-text.sse")
        if p["type"] == "message_start"
    ]
    raw = start["message"]["usage"]
    usage = usage_from_anthropic(raw)
    assert usage is not None
    assert usage.prompt_tokens == (
        raw["input_tokens"] + raw["cache_creation_input_tokens"] + raw["cache_read_input_tokens"]
    )
    cached = usage_from_anthropic(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 100,
            "output_tokens": 7,
        }
    )
    assert cached == Usage(
        prompt_tokens=115,
        completion_tokens=7,
        total_tokens=122,
        cache_read_tokens=100,
        cache_write_tokens=5,
    )
    # The converted answer carries them in OpenAI's shape and reads back the same.
    assert usage_from_openai(openai_usage(cached)) == cached


def test_gemini_thoughts_are_billed_as_output() -> None:
    meta = [
        p["usageMetadata"] for p in sse_payloads("gemini/stream-text.sse") if "usageMetadata" in p
    ][-1]
    usage = usage_from_gemini(meta)
    assert usage is not None
    assert usage.completion_tokens == meta["candidatesTokenCount"] + meta["thoughtsTokenCount"]
    assert usage.reasoning_tokens == meta["thoughtsTokenCount"]
    assert usage.prompt_tokens + usage.completion_tokens == meta["totalTokenCount"]


def test_groq_usage_is_read_from_x_groq() -> None:
    last = sse_payloads("groq/chat-stream-reasoning.sse")[-1]
    # This recording has usage twice; Groq streams that were not asked for usage carry it
    # only in x_groq.usage (https://console.groq.com/docs/api-reference#chat-create).
    only_x_groq = {k: v for k, v in last.items() if k != "usage"}
    assert chunk_usage(only_x_groq) == last["x_groq"]["usage"]
    usage = usage_from_openai(chunk_usage(only_x_groq))
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (17, 1107, 1124)
    assert usage.reasoning_tokens == 963  # Groq's completion already includes them
    assert chunk_usage({"choices": []}) is None


def test_responses_cohere_ollama() -> None:
    body = json.loads((STREAMS / "openai-responses/response.json").read_text(encoding="utf-8"))
    usage = usage_from_responses(body["usage"])
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        body["usage"]["input_tokens"],
        body["usage"]["output_tokens"],
    )
    assert usage_from("responses", body["usage"]) == usage
    cohere = json.loads((STREAMS / "cohere/chat.json").read_text(encoding="utf-8"))
    counted = usage_from_cohere(cohere["usage"])
    assert counted is not None
    assert counted.prompt_tokens == cohere["usage"]["tokens"]["input_tokens"]
    lines = (STREAMS / "ollama/chat-stream.ndjson").read_text(encoding="utf-8").splitlines()
    final = json.loads(lines[-1])
    ollama = usage_from_ollama(final)
    assert ollama is not None
    assert (ollama.prompt_tokens, ollama.completion_tokens) == (
        final["prompt_eval_count"],
        final["eval_count"],
    )


@pytest.mark.parametrize(
    "bad",
    [None, "12", [], {}, {"prompt_tokens": -1}, {"prompt_tokens": "7"}, {"prompt_tokens": True}],
)
def test_bad_usage_objects_read_as_none(bad: Any) -> None:
    assert usage_from_openai(bad) is None
    assert usage_from_anthropic(bad) is None
    assert usage_from_gemini(bad) is None


def test_parts_larger_than_their_whole_are_dropped() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 50},
        }
    )
    assert usage is not None and usage.cache_read_tokens == 0


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown usage format 'nope'"):
        usage_from("nope", {})


def test_estimate_is_flagged_and_shown_as_estimated() -> None:
    request = {"model": "llama-3.3-70b", "messages": [{"role": "user", "content": "x" * 40}]}
    response = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "y" * 21}}],
    }
    usage = estimate_usage(request, response, "llama-3.3-70b")
    # chars/4 rounded up, plus 3 per message and 3 to prime the reply.
    assert usage == Usage(prompt_tokens=16, completion_tokens=6, total_tokens=22, estimated=True)
    assert usage_text(usage) == "~16 in / 6 out (22 total) · estimated"
    assert cost_text(0.5, usage) == "~$0.500000"
    assert estimate_usage(None, None, "m") is None


def test_unknown_cost_is_never_zero() -> None:
    usage = Usage(prompt_tokens=12, completion_tokens=303, total_tokens=315, reasoning_tokens=290)
    assert usage_text(usage) == "12 in / 303 out (315 total) · 290 reasoning"
    assert cost_text(None, usage) == "unknown (no price)"
    assert cost_text(None, None) == "-"
    assert cost_sum_text(0.0421, 0) == "$0.042100"
    assert cost_sum_text(0.0421, 3) == "≥ $0.042100 (3 unpriced)"
    assert cost_sum_text(None, 2) == "unknown (2 unpriced)"
