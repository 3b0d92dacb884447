"""Responses API usage and parameters, driven with the openai SDK through the proxy.

- Usage: OpenAI's recorded ``gpt-5-mini`` web-search stream
  (tests/data/provider-streams/openai-responses/stream-web-search.sse, replayed byte for byte by
  a local fake upstream) reports ``input_tokens`` 31073 with ``cached_tokens`` 3712 and
  ``output_tokens`` 4416 with ``reasoning_tokens`` 3712: the trace's usage carries them and its
  cost is genai-prices' price of exactly those counts (cache reads at the cached price). A
  converted answer (Gemini's recorded stream, 185 ``thoughtsTokenCount``) carries its
  reasoning tokens in the Responses ``usage`` the SDK receives.
- Parameters: on a converted provider a Responses parameter it cannot take is a 400 naming
  the parameter (its Responses name) and the provider; with ``proxy.unsupported_params:
  drop`` the call goes through and the trace warns what was dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import genai_prices
import openai
import pytest

from traceforge_proxy.testing import RecordingUpstream, saved_traces
from traceforge_shared.config import Config
from traceforge_shared.trace import Usage

from .conftest import MakeProxy, Sdk

STREAMS = Path(__file__).parent / "data" / "provider-streams"
WEB_SEARCH = STREAMS / "openai-responses" / "stream-web-search.sse"


async def test_reasoning_and_cached_tokens_of_a_recorded_stream_are_priced(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    async with RecordingUpstream(WEB_SEARCH.read_bytes(), "text/event-stream") as url:
        service = await make_proxy(base_url=f"{url}/v1")
        async with sdk(service).responses.stream(
            model="gpt-5-mini", input="What happened in tech news today?"
        ) as stream:
            final = await stream.get_final_response()
    assert final.usage is not None
    assert final.usage.output_tokens_details.reasoning_tokens == 3712
    (trace,) = await saved_traces(service)
    assert trace.metadata.usage == Usage(
        prompt_tokens=31073,
        completion_tokens=4416,
        total_tokens=35489,
        cache_read_tokens=3712,
        reasoning_tokens=3712,
    )
    assert trace.response_model == "gpt-5-mini-2025-08-07"
    price = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=31073, cache_read_tokens=3712, output_tokens=4416),
        "gpt-5-mini-2025-08-07",
        provider_id="openai",
    )
    uncached = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=31073, output_tokens=4416),
        "gpt-5-mini-2025-08-07",
        provider_id="openai",
    )
    assert trace.metadata.cost_usd == pytest.approx(float(price.total_price))
    assert trace.metadata.cost_usd is not None
    assert trace.metadata.cost_usd < float(uncached.total_price)  # the cache read was priced


async def test_converted_answer_usage_carries_reasoning_tokens(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    service = await make_proxy()
    async with sdk(service).responses.stream(model="gemini-2.5-flash", input="hi") as stream:
        final = await stream.get_final_response()
    # gemini/stream-text.sse: promptTokenCount 9, candidatesTokenCount 23, thoughts 185
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 23 + 185)
    assert final.usage.output_tokens_details.reasoning_tokens == 185
    (trace,) = await saved_traces(service)
    usage = trace.metadata.usage
    assert usage is not None and usage.reasoning_tokens == 185
    assert trace.response["usage"]["output_tokens_details"] == {"reasoning_tokens": 185}


async def _anthropic_proxy(make_proxy: Any, *, drop: bool) -> Any:
    config = Config()
    if drop:
        config.proxy.unsupported_params = "drop"
    return await make_proxy(config=config)


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"text": {"verbosity": "high"}}, "text.verbosity"),
        ({"truncation": "auto"}, "truncation"),
        ({"max_tool_calls": 3}, "max_tool_calls"),
    ],
)
async def test_unsupported_parameter_is_a_400_naming_it(  # type: ignore[no-untyped-def]
    make_proxy, sdk, options, param
) -> None:
    service = await _anthropic_proxy(make_proxy, drop=False)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk(service).responses.create(model="claude-opus-4-6", input="hi", **options)
    error = raised.value.body
    assert isinstance(error, dict)
    assert (error["param"], error["code"]) == (param, "unsupported_parameter")
    assert f"'{param}' is not supported by Anthropic" in error["message"]
    assert "unsupported_params: drop" in error["message"]


async def test_drop_mode_drops_and_warns_in_the_trace(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await _anthropic_proxy(make_proxy, drop=True)
    response = await sdk(service).responses.create(
        model="claude-opus-4-6",
        input="hi",
        top_logprobs=2,
        service_tier="flex",
        truncation="auto",
        text={"verbosity": "high"},
        temperature=0.2,
    )
    assert response.output_text
    (trace,) = await saved_traces(service)
    assert trace.metadata.status == "success"
    assert (
        "parameters not supported by Anthropic were dropped: "
        "truncation, service_tier, top_logprobs, text.verbosity"
    ) in trace.metadata.warnings
    assert trace.request["top_logprobs"] == 2  # the trace keeps what the app sent
    sent = trace.native.request if trace.native is not None else {}
    assert sent["temperature"] == 0.2  # what Anthropic can take still goes


async def test_stateful_parameters_stay_a_400_in_drop_mode(make_proxy: MakeProxy, sdk: Sdk) -> None:
    service = await _anthropic_proxy(make_proxy, drop=True)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk(service).responses.create(
            model="claude-opus-4-6", input="hi", previous_response_id="resp_1"
        )
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["param"] == "previous_response_id"
