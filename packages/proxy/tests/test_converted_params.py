"""Every OpenAI chat completion parameter on the converted route (Anthropic, Gemini, Ollama,
Cohere): mapped into the provider's terms, accepted without effect, or a 400 naming it and the
provider; ``proxy.unsupported_params: drop`` drops instead and warns in the trace.

Driven with the ``openai`` SDK through the proxy; each provider is a local fake upstream that
records what it received and answers with a real recording
(``tests/data/provider-streams``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
    completion_create_params,
)

from traceforge_proxy.providers.params import (
    CONVERTED_PROVIDERS,
    OPENAI_PARAMETERS,
    PROVIDER_TITLES,
    RULES,
    markdown_table,
)
from traceforge_proxy.testing import RecordingUpstream, saved_traces
from traceforge_shared.config import Config, UpstreamConfig

from .conftest import MakeProxy, Sdk

DATA = Path(__file__).parent / "data" / "provider-streams"
DOCS = Path(__file__).parents[3] / "docs" / "providers.md"
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is 2 + 2?"}]
MODELS = {
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "ollama": "llama3.2",
    "cohere": "command-a-reasoning-08-2025",
}
#: A real non-streaming answer per provider.
ANSWERS = {
    "anthropic": (DATA / "anthropic-messages" / "message.json", "application/json"),
    "gemini": (DATA / "gemini" / "generate-content.json", "application/json"),
    "ollama": (DATA / "ollama" / "chat-stream.ndjson", "application/x-ndjson"),
    "cohere": (DATA / "cohere" / "chat-thinking.json", "application/json"),
}
#: A value of each parameter that asks for something (the default would be accepted).
ASKING = {
    "audio": {"voice": "alloy", "format": "wav"},
    "frequency_penalty": 0.5,
    "function_call": "auto",
    "functions": [{"name": "f", "parameters": {"type": "object", "properties": {}}}],
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "modalities": ["text", "audio"],
    "moderation": {"model": "omni-moderation-latest"},
    "n": 2,
    "parallel_tool_calls": False,
    "prediction": {"type": "content", "content": "4"},
    "presence_penalty": 0.5,
    "seed": 7,
    "service_tier": "flex",
    "store": True,
    "top_logprobs": 2,
    "verbosity": "low",
    "web_search_options": {},
}


def _upstream(provider: str) -> RecordingUpstream:
    path, content_type = ANSWERS[provider]
    if provider == "ollama":  # the stream's last line is a whole non-streaming answer
        last = path.read_bytes().strip().splitlines()[-1]
        return RecordingUpstream(last, content_type)
    return RecordingUpstream(path.read_bytes(), content_type)


async def _proxy(make_proxy: Any, provider: str, url: str, *, drop: bool = False) -> Any:
    config = Config()
    config.upstreams[provider] = UpstreamConfig(base_url=url)
    if drop:
        config.proxy.unsupported_params = "drop"
    return await make_proxy(default_provider=None, config=config)


def test_every_sdk_parameter_has_a_rule_for_every_provider() -> None:
    sdk_params = set(completion_create_params.CompletionCreateParamsBase.__annotations__)
    assert sdk_params | {"stream"} == set(OPENAI_PARAMETERS)
    for name in OPENAI_PARAMETERS:
        assert set(RULES[name]) == set(CONVERTED_PROVIDERS), name
    # the values used below ask for something wherever the parameter is rejected
    for name, rules in RULES.items():
        if any(rule.kind == "rejected" for rule in rules.values()):
            assert name in ASKING, name
            assert not any(
                rule.allows(ASKING[name]) for rule in rules.values() if rule.kind == "rejected"
            )


def test_docs_parameter_table_is_the_code_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- params-table:start -->\n(.*?)<!-- params-table:end -->", text, re.DOTALL
    )
    assert match is not None, "docs/providers.md lost its parameter table markers"
    assert match[1] == markdown_table()


@pytest.mark.parametrize("provider", CONVERTED_PROVIDERS)
async def test_rejected_parameters_are_400s_naming_parameter_and_provider(  # type: ignore[no-untyped-def]
    make_proxy, sdk, provider: str
) -> None:
    rejected = [n for n in OPENAI_PARAMETERS if RULES[n][provider].kind == "rejected"]
    upstream = _upstream(provider)
    async with upstream as url:
        client = sdk(await _proxy(make_proxy, provider, url))
        for name in rejected:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model=MODELS[provider], messages=ASK, extra_body={name: ASKING[name]}
                )
            error = caught.value
            assert (error.status_code, error.code, error.param) == (
                400,
                "unsupported_parameter",
                name,
            )
            assert f"'{name}'" in error.message
            assert PROVIDER_TITLES[provider] in error.message
    assert upstream.requests == []  # nothing reached the provider
    assert len(rejected) >= 9


@pytest.mark.parametrize("provider", CONVERTED_PROVIDERS)
async def test_harmless_values_are_accepted_and_not_sent(  # type: ignore[no-untyped-def]
    make_proxy, sdk, provider: str
) -> None:
    harmless: dict[str, Any] = {
        "n": 1,
        "store": False,
        "logit_bias": {},
        "logprobs": False,
        "modalities": ["text"],
        "service_tier": "auto",
        "verbosity": "medium",
        "metadata": {"team": "search"},
        "prompt_cache_key": "k-1",
        "stream_options": None,
    }
    upstream = _upstream(provider)
    async with upstream as url:
        client = sdk(await _proxy(make_proxy, provider, url))
        completion = await client.chat.completions.create(
            model=MODELS[provider], messages=ASK, **harmless
        )
    assert completion.choices[0].finish_reason == "stop"
    (body,) = upstream.bodies
    for name in ("n", "store", "logit_bias", "logprobs", "modalities", "service_tier"):
        assert name not in body
    assert "prompt_cache_key" not in body and "verbosity" not in body
    assert "team" not in str(body)


async def test_mapped_parameters_reach_each_provider_in_its_terms(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    sampling: dict[str, Any] = {
        "seed": 7,
        "presence_penalty": 0.25,
        "frequency_penalty": 0.5,
        "stop": ["END"],
    }
    received: dict[str, Any] = {}
    for provider in ("gemini", "ollama", "cohere"):
        upstream = _upstream(provider)
        async with upstream as url:
            client = sdk(await _proxy(make_proxy, provider, url))
            extra: dict[str, Any] = (
                {"n": 2, "logprobs": True, "top_logprobs": 3} if provider == "gemini" else {}
            )
            await client.chat.completions.create(
                model=MODELS[provider],
                messages=ASK,
                max_completion_tokens=64,
                **sampling,
                **extra,
            )
        (received[provider],) = upstream.bodies
    assert received["gemini"]["generationConfig"] == {
        "seed": 7,
        "presencePenalty": 0.25,
        "frequencyPenalty": 0.5,
        "candidateCount": 2,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "responseLogprobs": True,
        "logprobs": 3,
    }
    assert received["ollama"]["options"] == {
        "seed": 7,
        "presence_penalty": 0.25,
        "frequency_penalty": 0.5,
        "num_predict": 64,
        "stop": ["END"],
    }
    cohere = received["cohere"]
    assert (cohere["seed"], cohere["presence_penalty"], cohere["frequency_penalty"]) == (
        7,
        0.25,
        0.5,
    )
    assert (cohere["max_tokens"], cohere["stop_sequences"]) == (64, ["END"])


async def test_anthropic_parallel_tool_calls_and_end_user(make_proxy: MakeProxy, sdk: Sdk) -> None:
    tool: ChatCompletionToolParam = {
        "type": "function",
        "function": {"name": "add", "parameters": {"type": "object", "properties": {}}},
    }
    upstream = _upstream("anthropic")
    async with upstream as url:
        client = sdk(await _proxy(make_proxy, "anthropic", url))
        await client.chat.completions.create(
            model=MODELS["anthropic"],
            messages=ASK,
            tools=[tool],
            parallel_tool_calls=False,
            safety_identifier="user-hash-1",
        )
    (body,) = upstream.bodies
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert body["metadata"] == {"user_id": "user-hash-1"}


@pytest.mark.parametrize(
    ("provider", "model", "effort", "expected"),
    [
        (
            "anthropic",
            "claude-sonnet-4-5",
            "medium",
            {"thinking": {"type": "enabled", "budget_tokens": 8192}, "max_tokens": 4096 + 8192},
        ),
        (
            "gemini",
            "gemini-2.5-flash",
            "low",
            {
                "generationConfig": {
                    "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}
                }
            },
        ),
        (
            "gemini",
            "gemini-2.5-flash",
            "none",
            {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
        ),
        (
            "gemini",
            "gemini-3-pro-preview",
            "high",
            {
                "generationConfig": {
                    "thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True}
                }
            },
        ),
        ("ollama", "qwen3", "high", {"think": True}),
        ("ollama", "gpt-oss:20b", "minimal", {"think": "low"}),
        (
            "cohere",
            MODELS["cohere"],
            "high",
            {"thinking": {"type": "enabled", "token_budget": 16384}},
        ),
        ("cohere", MODELS["cohere"], "none", {"thinking": {"type": "disabled"}}),
    ],
)
async def test_reasoning_effort_reaches_the_provider_as_a_thinking_setting(  # type: ignore[no-untyped-def]
    make_proxy, sdk, provider: str, model: str, effort: str, expected: dict[str, Any]
) -> None:
    upstream = _upstream(provider)
    async with upstream as url:
        client = sdk(await _proxy(make_proxy, provider, url))
        await client.chat.completions.create(
            model=f"{provider}/{model}",
            messages=ASK,
            reasoning_effort=effort,
        )
    (body,) = upstream.bodies
    assert {key: body[key] for key in expected} == expected


async def test_anthropic_thinking_conflicts_are_400s_naming_the_field(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    upstream = _upstream("anthropic")
    async with upstream as url:
        client = sdk(await _proxy(make_proxy, "anthropic", url))
        cases: list[tuple[dict[str, Any], str]] = [
            ({"temperature": 0.2}, "temperature"),
            ({"max_tokens": 1000}, "max_tokens"),
            ({"tool_choice": "required", "tools": [_ADD]}, "tool_choice"),
            ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ]
        for extra, param in cases:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model=MODELS["anthropic"], messages=ASK, **{"reasoning_effort": "low", **extra}
                )
            assert caught.value.param == param
        # a client limit above the minimum keeps the limit and fits the budget under it
        await client.chat.completions.create(
            model=MODELS["anthropic"], messages=ASK, reasoning_effort="high", max_tokens=3000
        )
    (body,) = upstream.bodies
    assert (body["max_tokens"], body["thinking"]["budget_tokens"]) == (3000, 2999)


_ADD = {
    "type": "function",
    "function": {"name": "add", "parameters": {"type": "object", "properties": {}}},
}


async def test_drop_mode_sends_without_and_warns_in_the_trace(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    upstream = _upstream("anthropic")
    async with upstream as url:
        service = await _proxy(make_proxy, "anthropic", url, drop=True)
        completion = await sdk(service).chat.completions.create(
            model=MODELS["anthropic"],
            messages=ASK,
            seed=7,
            logit_bias={"50256": -100},
            temperature=0.5,
        )
    assert completion.choices[0].message.content
    (body,) = upstream.bodies
    assert "seed" not in body and "logit_bias" not in body and body["temperature"] == 0.5
    (trace,) = await saved_traces(service)
    assert "parameters not supported by Anthropic were dropped: logit_bias, seed" in (
        trace.metadata.warnings
    )
    assert trace.request["seed"] == 7  # the trace keeps what the app sent


async def test_gemini_logprobs_come_back_in_openai_shape(make_proxy: MakeProxy, sdk: Sdk) -> None:
    # The recorded answer plus a logprobsResult in the API reference's shape
    # (https://ai.google.dev/api/generate-content#LogprobsResult): Gemini answers with one
    # when the request has responseLogprobs.
    answer = json.loads(ANSWERS["gemini"][0].read_bytes())
    answer["candidates"][0]["logprobsResult"] = {
        "topCandidates": [
            {
                "candidates": [
                    {"token": "There", "tokenId": 8, "logProbability": -0.01},
                    {"token": "The", "tokenId": 9, "logProbability": -4.6},
                ]
            }
        ],
        "chosenCandidates": [{"token": "There", "tokenId": 8, "logProbability": -0.01}],
    }
    upstream = RecordingUpstream(json.dumps(answer).encode(), "application/json")
    async with upstream as url:
        client = sdk(await _proxy(make_proxy, "gemini", url))
        completion = await client.chat.completions.create(
            model=MODELS["gemini"], messages=ASK, logprobs=True, top_logprobs=2
        )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    (token,) = logprobs.content
    assert (token.token, token.logprob, token.bytes) == ("There", -0.01, list(b"There"))
    assert [(t.token, t.logprob) for t in token.top_logprobs] == [("There", -0.01), ("The", -4.6)]
