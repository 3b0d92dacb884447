"""The Responses API usage shape, written and read by the shared usage model.

Counts are OpenAI's recorded ``gpt-5-mini`` web-search stream's ``response.usage``
(packages/proxy/tests/data/provider-streams/openai-responses/stream-web-search.sse) and an
Anthropic cache write as the proxy's converted chat answers carry it."""

from __future__ import annotations

from openai.types.responses import ResponseUsage

from traceforge_shared.trace import Usage
from traceforge_shared.usage import responses_usage, usage_from_openai, usage_from_responses

RECORDED = {
    "input_tokens": 31073,
    "input_tokens_details": {"cached_tokens": 3712},
    "output_tokens": 4416,
    "output_tokens_details": {"reasoning_tokens": 3712},
    "total_tokens": 35489,
}


def test_recorded_responses_usage_is_read_with_its_details() -> None:
    assert usage_from_responses(RECORDED) == Usage(
        prompt_tokens=31073,
        completion_tokens=4416,
        total_tokens=35489,
        cache_read_tokens=3712,
        reasoning_tokens=3712,
    )


def test_written_usage_is_what_the_openai_sdk_accepts_and_reads_back() -> None:
    chat = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 800},
        "completion_tokens_details": {"reasoning_tokens": 120},
        "cache_creation_input_tokens": 250,  # converted Anthropic answers
    }
    usage = usage_from_openai(chat)
    assert usage is not None and usage.cache_write_tokens == 250
    written = responses_usage(usage)
    parsed = ResponseUsage.model_validate(written)  # the SDK's own type: details required
    assert parsed.input_tokens_details.cached_tokens == 800
    assert parsed.input_tokens_details.cache_write_tokens == 250
    assert parsed.output_tokens_details.reasoning_tokens == 120
    assert usage_from_responses(written) == usage


def test_openai_cache_write_tokens_in_prompt_details() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 100,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 60},
        }
    )
    assert usage is not None
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (10, 60)
