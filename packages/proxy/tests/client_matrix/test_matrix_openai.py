"""Client matrix, ``openai`` SDK: chat (stream and not), Responses ``create`` (stream and not),
``embeddings.create``, ``models.list`` and ``chat.completions.parse``, each against the mock
directly and through the proxy; same result, one trace with the transcript's usage."""

from __future__ import annotations

from typing import Any

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.mock_upstream import COMPLETION, choose_stream
from traceforge_proxy.mock_upstream.openai_responses import RESPONSE, choose_responses_stream

ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, how are you?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class CityAnswer(pydantic.BaseModel):
    """The structured output ``parse`` asks for."""

    city: str
    country: str


def _client(matrix: Any, direct: bool) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=matrix.openai_base(direct), api_key="sk-x", max_retries=0)


async def _chat_stream(client: openai.AsyncOpenAI, **options: Any) -> dict[str, Any]:
    stream = await client.chat.completions.create(
        messages=ASK, stream=True, stream_options={"include_usage": True}, **options
    )
    text, finish, usage = "", None, None
    calls: dict[int, dict[str, str]] = {}
    async for chunk in stream:
        usage = chunk.usage.model_dump() if chunk.usage else usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
    await client.close()
    return {"text": text, "finish": finish, "usage": usage, "tool_calls": calls}


@pytest.mark.parametrize(("model", "tools"), [("gpt-4o", None), ("gpt-4o", [WEATHER])])
async def test_chat_stream(matrix, transcripts, model, tools) -> None:  # type: ignore[no-untyped-def]
    options: dict[str, Any] = {"model": model} | ({"tools": tools} if tools else {})
    direct = await _chat_stream(_client(matrix, True), **options)
    proxied = await _chat_stream(_client(matrix, False), **options)
    assert proxied == direct
    assert direct["text"] or direct["tool_calls"]
    expected = transcripts.openai_chat_stream_usage(choose_stream(options))
    assert (direct["usage"]["prompt_tokens"], direct["usage"]["completion_tokens"]) == expected
    await matrix.trace(provider="openai", model=model, usage=expected)


async def test_chat_non_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        client = _client(matrix, direct)
        completion = await client.chat.completions.create(model="gpt-4o", messages=ASK)
        await client.close()
        results.append(completion.model_dump())
    assert results[1] == results[0]
    expected = transcripts.openai_body_usage(COMPLETION)
    trace = await matrix.trace(provider="openai", model="gpt-4o", usage=expected)
    assert (
        trace.response["choices"][0]["message"]["content"]
        == (results[0]["choices"][0]["message"]["content"])
    )


async def _responses_stream(client: openai.AsyncOpenAI, model: str) -> dict[str, Any]:
    stream = await client.responses.create(model=model, input="Hello, how are you?", stream=True)
    types, text, final = [], "", None
    async for event in stream:
        types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.completed":
            final = event.response
    await client.close()
    assert final is not None, types
    usage = final.usage
    assert usage is not None
    return {
        "types": types,
        "text": text,
        "output_text": final.output_text,
        "usage": (usage.input_tokens, usage.output_tokens),
    }


async def test_responses_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    direct = await _responses_stream(_client(matrix, True), "gpt-4.1-nano")
    proxied = await _responses_stream(_client(matrix, False), "gpt-4.1-nano")
    assert proxied == direct
    assert direct["text"] == direct["output_text"] != ""
    expected = transcripts.responses_stream_usage(
        choose_responses_stream({"model": "gpt-4.1-nano"})
    )
    assert direct["usage"] == expected
    trace = await matrix.trace(provider="openai", model="gpt-4.1-nano", usage=expected)
    assert trace.metadata.streaming
    assert trace.endpoint == "/v1/responses"


async def test_responses_non_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        client = _client(matrix, direct)
        response = await client.responses.create(model="gpt-4.1-nano", input="Hello")
        await client.close()
        results.append(response)
    assert results[1].model_dump() == results[0].model_dump()
    assert results[0].output_text
    expected = transcripts.openai_body_usage(RESPONSE)
    trace = await matrix.trace(provider="openai", model="gpt-4.1-nano", usage=expected)
    assert trace.endpoint == "/v1/responses"
    assert not trace.metadata.streaming


async def test_embeddings(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        client = _client(matrix, direct)
        # float: the SDK otherwise asks for base64 and decodes it; both must round-trip.
        for encoding in ("float", "base64"):
            made = await client.embeddings.create(
                model="text-embedding-3-small",
                input=["Hello", "world"],
                encoding_format=encoding,
            )
            results.append((encoding, [d.embedding for d in made.data], made.usage.prompt_tokens))
        await client.close()
    assert results[2:] == results[:2]
    (_, vectors, prompt_tokens), _ = results[:2]
    assert vectors and all(isinstance(x, float) for x in vectors[0])
    # The token count is the mock's estimate (no recording): the traces must hold it.
    expected = (prompt_tokens, 0)
    assert prompt_tokens > 0
    traces = await matrix.traces(2)
    for trace in traces:
        assert trace.endpoint == "/v1/embeddings"
        assert trace.metadata.usage is not None
        assert trace.metadata.usage.prompt_tokens == expected[0]
        assert (trace.provider, trace.model, trace.metadata.status) == (
            "openai",
            "text-embedding-3-small",
            "success",
        )


async def test_models_list(matrix) -> None:  # type: ignore[no-untyped-def]
    listed = []
    for direct in (True, False):
        client = _client(matrix, direct)
        listed.append([m.id async for m in client.models.list()])
        await client.close()
    direct_ids, merged = listed
    assert direct_ids
    assert set(direct_ids) <= set(merged)  # OpenAI's models, as the provider lists them
    assert len(merged) == len(set(merged))
    # Merged: the other providers' models are listed as well.
    assert any(m.startswith("claude-") for m in merged), merged
    assert any(m.startswith("gemini-") for m in merged), merged
    (trace,) = await matrix.traces(1)
    assert trace.metadata.status == "success"
    assert trace.endpoint == "/v1/models"


async def _parse(client: openai.AsyncOpenAI, model: str) -> Any:
    completion = await client.chat.completions.parse(
        model=model,
        messages=[{"role": "user", "content": "Which city is the capital of France?"}],
        response_format=CityAnswer,
    )
    await client.close()
    return completion


async def test_parse_openai(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    direct = await _parse(_client(matrix, True), "gpt-4o")
    proxied = await _parse(_client(matrix, False), "gpt-4o")
    assert isinstance(proxied.choices[0].message.parsed, CityAnswer)
    assert proxied.choices[0].message.parsed == direct.choices[0].message.parsed
    assert proxied.usage is not None and direct.usage is not None
    expected = (direct.usage.prompt_tokens, direct.usage.completion_tokens)
    trace = await matrix.trace(provider="openai", model="gpt-4o", usage=expected)
    assert trace.request["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize(
    ("model", "provider"), [("claude-opus-4-6", "anthropic"), ("gemini-2.5-flash", "gemini")]
)
async def test_parse_converted(matrix, model, provider) -> None:  # type: ignore[no-untyped-def]
    """Through conversion there is no OpenAI-shaped "direct" answer to compare with: the parsed
    object must be the JSON the provider's answer holds, and the trace agree with it."""
    completion = await _parse(_client(matrix, False), model)
    message = completion.choices[0].message
    assert isinstance(message.parsed, CityAnswer), message.content
    assert message.parsed == CityAnswer.model_validate_json(message.content or "")
    assert completion.usage is not None
    expected = (completion.usage.prompt_tokens, completion.usage.completion_tokens)
    assert expected[0] > 0 and expected[1] > 0
    trace = await matrix.trace(provider=provider, model=model, usage=expected)
    assert trace.route == "converted"
    assert trace.native is not None and trace.native.request is not None
    # The schema reached the provider in its own terms.
    assert "CityAnswer" in str(trace.native.request) or "country" in str(trace.native.request)


#: Converted Responses API calls: model → (provider, body transcript, stream transcript, reader).
CONVERTED = {
    "claude-opus-4-6": (
        "anthropic",
        "anthropic/message.json",
        "anthropic/stream-text.sse",
        ("anthropic_body_usage", "anthropic_stream_usage"),
    ),
    "gemini-2.5-flash": (
        "gemini",
        "gemini/generate-content.json",
        "gemini/stream-text.sse",
        ("gemini_body_usage", "gemini_stream_usage"),
    ),
    "llama3.2": (
        "ollama",
        "ollama/chat-stream.ndjson",
        "ollama/chat-stream.ndjson",
        ("ollama_usage", "ollama_usage"),
    ),
    "command-a-03-2025": (
        "cohere",
        "cohere/chat.json",
        "cohere/chat-stream.sse",
        ("cohere_usage", "cohere_usage"),
    ),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", list(CONVERTED))
async def test_responses_converted(matrix, transcripts, model, stream) -> None:  # type: ignore[no-untyped-def]
    """The Responses API for a provider that has none: no OpenAI-shaped "direct" answer to
    compare with, so the text and usage must be those of the provider's transcript."""
    provider, body, streamed, readers = CONVERTED[model]
    name = streamed if stream else body
    client = _client(matrix, False)
    if stream:
        got = await _responses_stream(client, model)
        text, usage = got["output_text"], got["usage"]
        assert got["text"] == text
    else:
        response = await client.responses.create(model=model, input="Hello, how are you?")
        await client.close()
        assert response.usage is not None
        text, usage = (
            response.output_text,
            (response.usage.input_tokens, response.usage.output_tokens),
        )
    assert text == transcripts.answer_text(name)
    expected = getattr(transcripts, readers[1] if stream else readers[0])(name)
    assert usage == expected
    trace = await matrix.trace(provider=provider, model=model, usage=expected)
    assert trace.endpoint == "/v1/responses"
    assert trace.metadata.streaming == stream
