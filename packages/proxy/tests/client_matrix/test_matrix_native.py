"""Client matrix, the providers' own SDKs on their native routes: ``anthropic``
(``messages.create`` stream and not, ``messages.count_tokens``), ``google-genai``
(``generate_content`` stream and not, ``count_tokens``), ``ollama`` (``chat`` stream and not,
``embed``) and ``cohere`` ``ClientV2`` (``chat``, ``chat_stream``). Each call against the mock
directly and through the proxy: same result, one trace with the transcript's usage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import cohere
import ollama
import pytest
from google import genai
from google.genai import types as genai_types

ASK: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello, how are you?"}]


# -- anthropic ------------------------------------------------------------------------------------


def _anthropic(matrix: Any, direct: bool) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=matrix.native_base(direct, "anthropic"), api_key="sk-ant-test", max_retries=0
    )


async def test_anthropic_messages_create(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        client = _anthropic(matrix, direct)
        message = await client.messages.create(
            model="claude-opus-4-6", max_tokens=100, messages=ASK
        )
        await client.close()
        results.append(message.model_dump())
    assert results[1] == results[0]
    expected = transcripts.anthropic_body_usage("anthropic/message.json")
    usage = results[0]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == expected
    await matrix.trace(provider="anthropic", model="claude-opus-4-6", usage=expected)


async def test_anthropic_messages_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        client = _anthropic(matrix, direct)
        async with client.messages.stream(
            model="claude-opus-4-6", max_tokens=100, messages=ASK
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        await client.close()
        results.append((text, final.model_dump()))
    assert results[1] == results[0]
    expected = transcripts.anthropic_stream_usage("anthropic/stream-text.sse")
    usage = results[0][1]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == expected
    trace = await matrix.trace(provider="anthropic", model="claude-opus-4-6", usage=expected)
    assert trace.metadata.streaming


async def test_anthropic_count_tokens(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    counts = []
    for direct in (True, False):
        client = _anthropic(matrix, direct)
        counted = await client.messages.count_tokens(model="claude-opus-4-6", messages=ASK)
        await client.close()
        counts.append(counted.input_tokens)
    # The mock estimates the count (no recording): the proxied answer must be the mock's.
    assert counts[1] == counts[0] > 0
    trace = await matrix.trace(provider="anthropic", model="claude-opus-4-6", usage=...)
    assert trace.endpoint == "/anthropic/v1/messages/count_tokens"


# -- google-genai ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _genai(matrix: Any, direct: bool) -> AsyncIterator[Any]:
    """``client.aio`` of a ``genai.Client`` at the mock or the proxy; both closed after."""
    client = genai.Client(
        api_key="AIza-test-key",
        http_options=genai_types.HttpOptions(base_url=matrix.native_base(direct, "gemini")),
    )
    async with client.aio as aio:
        yield aio
    client.close()


PROMPT = "How many r's are in strawberry?"


async def test_genai_generate_content(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        async with _genai(matrix, direct) as aio:
            response = await aio.models.generate_content(model="gemini-2.5-flash", contents=PROMPT)
        results.append((response.text, response.usage_metadata))
    assert results[1] == results[0]
    expected = transcripts.gemini_body_usage("gemini/generate-content.json")
    await matrix.trace(provider="gemini", model="gemini-2.5-flash", usage=expected)


async def test_genai_generate_content_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        async with _genai(matrix, direct) as aio:
            stream = await aio.models.generate_content_stream(
                model="gemini-2.5-flash", contents=PROMPT
            )
            chunks = [chunk async for chunk in stream]
        results.append(("".join(c.text or "" for c in chunks), chunks[-1].usage_metadata))
    assert results[1] == results[0]
    expected = transcripts.gemini_stream_usage("gemini/stream-text.sse")
    trace = await matrix.trace(provider="gemini", model="gemini-2.5-flash", usage=expected)
    assert trace.metadata.streaming


async def test_genai_count_tokens(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    counts = []
    for direct in (True, False):
        async with _genai(matrix, direct) as aio:
            counted = await aio.models.count_tokens(model="gemini-2.5-flash", contents=PROMPT)
        counts.append(counted.total_tokens)
    # The mock estimates the count (no recording): the proxied answer must be the mock's.
    assert counts[1] == counts[0] > 0
    trace = await matrix.trace(provider="gemini", model="gemini-2.5-flash", usage=...)
    assert trace.endpoint.endswith(":countTokens")


# -- ollama ---------------------------------------------------------------------------------------


def _ollama(matrix: Any, direct: bool) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=matrix.native_base(direct, "ollama"))


@pytest.mark.parametrize("stream", [True, False])
async def test_ollama_chat(matrix, transcripts, stream) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        async with _ollama(matrix, direct) as client:
            if stream:
                parts = [part async for part in await client.chat("llama3.2", ASK, stream=True)]
                text = "".join(p.message.content or "" for p in parts)
                last = parts[-1]
            else:
                last = await client.chat("llama3.2", ASK)
                text = last.message.content or ""
        results.append((text, last.prompt_eval_count, last.eval_count, last.done_reason))
    assert results[1] == results[0]
    expected = transcripts.ollama_usage("ollama/chat-stream.ndjson")
    assert results[0][1:3] == expected
    trace = await matrix.trace(provider="ollama", model="llama3.2", usage=expected)
    assert trace.metadata.streaming == stream


async def test_ollama_embed(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        async with _ollama(matrix, direct) as client:
            made = await client.embed("all-minilm", ["Hello", "world"])
        results.append((made.embeddings, made.prompt_eval_count))
    assert results[1] == results[0]
    # The vectors are the documented example's (ollama/embed.json), input i → vector i % 2.
    recorded = transcripts.json("ollama/embed.json")
    assert results[0][0] == recorded["embeddings"][:2]
    # The token count is the mock's estimate (no recording): the trace must hold it.
    trace = await matrix.trace(provider="ollama", model="all-minilm", usage=(results[0][1], 0))
    assert trace.endpoint == "/ollama/api/embed"


# -- cohere ---------------------------------------------------------------------------------------


def _cohere(matrix: Any, direct: bool) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key="co-test", base_url=matrix.native_base(direct, "cohere"))


async def test_cohere_chat(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        async with _cohere(matrix, direct) as client:
            response = await client.chat(model="command-a-03-2025", messages=ASK)
        results.append(response.model_dump())
    assert results[1] == results[0]
    expected = transcripts.cohere_usage("cohere/chat.json")
    await matrix.trace(provider="cohere", model="command-a-03-2025", usage=expected)


async def test_cohere_chat_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    results = []
    for direct in (True, False):
        text, ends = "", []
        async with _cohere(matrix, direct) as client:
            async for event in client.chat_stream(
                model="command-a-03-2025",
                messages=ASK,
            ):
                if event.type == "content-delta":
                    text += event.delta.message.content.text
                elif event.type == "message-end":
                    ends.append(event.model_dump())
        results.append((text, ends))
    assert results[1] == results[0]
    assert results[0][0]
    expected = transcripts.cohere_usage("cohere/chat-stream.sse")
    trace = await matrix.trace(provider="cohere", model="command-a-03-2025", usage=expected)
    assert trace.metadata.streaming


async def test_concurrent_native_clients_one_trace_each(matrix) -> None:  # type: ignore[no-untyped-def]
    """Sanity for the harness: several native clients at once through one proxy, each call
    one trace."""
    async with _ollama(matrix, False) as llama, _genai(matrix, False) as gemini:
        await asyncio.gather(
            llama.chat("llama3.2", ASK),
            gemini.models.generate_content(model="gemini-2.5-flash", contents="x"),
        )
    traces = await matrix.traces(2)
    assert sorted(t.provider for t in traces) == ["gemini", "ollama"]
