"""Client matrix, agent and LLM frameworks: the OpenAI Agents SDK on the Responses API,
litellm (``completion`` for OpenAI, Anthropic, Gemini and Ollama; ``acompletion`` stream),
langchain-openai ``ChatOpenAI`` and pydantic-ai ``Agent`` on an OpenAI chat model. Each call
against the mock directly and through the proxy: same result, one trace (per model call) with
the transcript's usage. Synchronous clients run in a worker thread so the proxy, on the
test's event loop, keeps serving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from traceforge_proxy.mock_upstream import COMPLETION, choose_stream
from traceforge_proxy.mock_upstream.openai_responses import (
    FUNCTION_CALL_STREAM,
    RESPONSE,
    final_response,
)

pytestmark = [
    # The frameworks' own deprecation notices are not the proxy's concern.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    # litellm's TypedDicts, as pydantic reads them.
    pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning"),
]

QUESTION = "Hello, how are you?"
ASK = [{"role": "user", "content": QUESTION}]


# -- OpenAI Agents SDK ----------------------------------------------------------------------------


async def _agent_run(matrix: Any, direct: bool, *, with_tool: bool) -> dict[str, Any]:
    import agents

    agents.set_tracing_disabled(True)
    called: list[str] = []
    # The tool the recorded function call names, with the parameter its arguments use.
    (call,) = [
        i for i in final_response(FUNCTION_CALL_STREAM)["output"] if i["type"] == "function_call"
    ]
    assert list(json.loads(call["arguments"])) == ["location"], call

    @agents.function_tool(name_override=call["name"])
    def get_weather(location: str) -> str:
        """The weather at a location."""
        called.append(location)
        return f"Sunny in {location}"

    client = openai.AsyncOpenAI(base_url=matrix.openai_base(direct), api_key="sk-x", max_retries=0)
    agent = agents.Agent(
        name="assistant",
        instructions="Answer briefly.",
        model=agents.OpenAIResponsesModel(model="gpt-4.1-nano", openai_client=client),
        tools=[get_weather] if with_tool else [],
    )
    result = await agents.Runner.run(agent, QUESTION, max_turns=3)
    await client.close()
    usage = result.context_wrapper.usage
    return {
        "output": result.final_output,
        "called": called,
        "usage": (usage.input_tokens, usage.output_tokens),
        "requests": usage.requests,
    }


async def test_openai_agents_runner(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    direct = await _agent_run(matrix, True, with_tool=False)
    proxied = await _agent_run(matrix, False, with_tool=False)
    assert proxied == direct
    assert direct["output"]
    # Runner.run asks for a non-streamed response: the recorded body's usage.
    expected = transcripts.openai_body_usage(RESPONSE)
    assert direct["usage"] == expected
    trace = await matrix.trace(provider="openai", model="gpt-4.1-nano", usage=expected)
    assert trace.endpoint == "/v1/responses"


async def test_openai_agents_function_tool_round_trip(matrix) -> None:  # type: ignore[no-untyped-def]
    """One ``function_call`` from the model, the tool run, its output sent back, a text
    answer: two Responses calls, two traces."""
    direct = await _agent_run(matrix, True, with_tool=True)
    proxied = await _agent_run(matrix, False, with_tool=True)
    assert proxied == direct
    assert len(direct["called"]) == 1, direct
    assert direct["output"] and direct["requests"] == 2
    first, second = await matrix.traces(2)
    assert first.endpoint == second.endpoint == "/v1/responses"
    assert "function_call_output" in str(second.request)
    total = [0, 0]
    for trace in (first, second):
        assert (trace.provider, trace.metadata.status) == ("openai", "success")
        assert trace.metadata.usage is not None
        total[0] += trace.metadata.usage.prompt_tokens
        total[1] += trace.metadata.usage.completion_tokens
    assert tuple(total) == direct["usage"]


# -- litellm --------------------------------------------------------------------------------------


def _litellm_call(model: str, api_base: str) -> dict[str, Any]:
    import litellm

    litellm.telemetry = False
    options: dict[str, Any] = {}
    if model.startswith("openai/"):
        # Our own client, closed below: litellm's cached one would be dropped unclosed.
        options["client"] = openai.OpenAI(base_url=api_base, api_key="sk-test", max_retries=0)
    response = litellm.completion(
        model=model, messages=ASK, api_base=api_base, api_key="sk-test", max_tokens=100, **options
    )
    if "client" in options:
        options["client"].close()
    message = response.choices[0].message
    return {
        "text": message.content,
        "finish": response.choices[0].finish_reason,
        "usage": (response.usage.prompt_tokens, response.usage.completion_tokens),
    }


def _litellm_cases(transcripts: Any) -> dict[str, tuple[str, str, str, Any]]:
    """litellm model → (provider, base path under the root, model sent, expected usage)."""
    return {
        "openai/gpt-4o": (
            "openai",
            "/v1",
            "gpt-4o",
            transcripts.openai_body_usage(COMPLETION),
        ),
        "anthropic/claude-opus-4-6": (
            "anthropic",
            "/anthropic",
            "claude-opus-4-6",
            transcripts.anthropic_body_usage("anthropic/message.json"),
        ),
        "gemini/gemini-2.5-flash": (
            "gemini",
            "/gemini/v1beta",
            "gemini-2.5-flash",
            transcripts.gemini_body_usage("gemini/generate-content.json"),
        ),
        "ollama_chat/llama3.2": (
            "ollama",
            "/ollama",
            "llama3.2",
            transcripts.ollama_usage("ollama/chat-stream.ndjson"),
        ),
    }


@pytest.mark.parametrize(
    "model",
    [
        "openai/gpt-4o",
        "anthropic/claude-opus-4-6",
        "gemini/gemini-2.5-flash",
        "ollama_chat/llama3.2",
    ],
)
async def test_litellm_completion(matrix, transcripts, model) -> None:  # type: ignore[no-untyped-def]
    provider, path, sent, expected = _litellm_cases(transcripts)[model]
    direct = await asyncio.to_thread(_litellm_call, model, matrix.root(True) + path)
    proxied = await asyncio.to_thread(_litellm_call, model, matrix.root(False) + path)
    assert proxied == direct
    assert direct["text"]
    assert direct["usage"] == expected
    # For Ollama, litellm's cost logging may look the model up (POST /api/show) in a
    # background thread, whenever it gets to it.
    await matrix.trace(provider=provider, model=sent, usage=expected, ignore="/api/show")


async def test_litellm_acompletion_stream(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    import litellm

    results = []
    for direct in (True, False):
        stream = await litellm.acompletion(
            model="openai/gpt-4o",
            messages=ASK,
            api_base=matrix.openai_base(direct),
            api_key="sk-test",
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
            usage = getattr(chunk, "usage", None) or usage
        assert usage is not None
        results.append((text, usage.prompt_tokens, usage.completion_tokens))
    assert results[1] == results[0]
    assert results[0][0]
    expected = transcripts.openai_chat_stream_usage(choose_stream({"model": "gpt-4o"}))
    assert results[0][1:] == expected
    trace = await matrix.trace(provider="openai", model="gpt-4o", usage=expected)
    assert trace.metadata.streaming


# -- langchain-openai -----------------------------------------------------------------------------


def _langchain(matrix: Any, direct: bool, stream: bool) -> tuple[str, Any]:
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        model="gpt-4o",
        base_url=matrix.openai_base(direct),
        api_key="sk-test",  # type: ignore[arg-type]
        max_retries=0,
        stream_usage=True,
    )
    if not stream:
        message = chat.invoke(QUESTION)
        return str(message.content), message.usage_metadata
    merged = None
    for piece in chat.stream(QUESTION):
        merged = piece if merged is None else merged + piece
    assert merged is not None
    return str(merged.content), merged.usage_metadata


@pytest.mark.parametrize("stream", [False, True])
async def test_langchain_chat_openai(matrix, transcripts, stream) -> None:  # type: ignore[no-untyped-def]
    direct = await asyncio.to_thread(_langchain, matrix, True, stream)
    proxied = await asyncio.to_thread(_langchain, matrix, False, stream)
    assert proxied == direct
    text, usage = direct
    assert text
    if stream:
        expected = transcripts.openai_chat_stream_usage(choose_stream({"model": "gpt-4o"}))
    else:
        expected = transcripts.openai_body_usage(COMPLETION)
    assert (usage["input_tokens"], usage["output_tokens"]) == expected
    trace = await matrix.trace(provider="openai", model="gpt-4o", usage=expected)
    assert trace.metadata.streaming == stream


# -- pydantic-ai ----------------------------------------------------------------------------------


def _pydantic_ai(matrix: Any, direct: bool) -> tuple[str, Any]:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    # run_sync runs on this thread's event loop: one we close, with the client, after.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = openai.AsyncOpenAI(base_url=matrix.openai_base(direct), api_key="sk-x", max_retries=0)
    try:
        provider = OpenAIProvider(openai_client=client)
        agent = Agent(OpenAIChatModel("gpt-4o", provider=provider), instructions="Answer briefly.")
        result = agent.run_sync(QUESTION)
    finally:
        loop.run_until_complete(client.close())
        asyncio.set_event_loop(None)
        loop.close()
    usage = result.usage
    return result.output, (usage.input_tokens, usage.output_tokens)


async def test_pydantic_ai_agent(matrix, transcripts) -> None:  # type: ignore[no-untyped-def]
    direct = await asyncio.to_thread(_pydantic_ai, matrix, True)
    proxied = await asyncio.to_thread(_pydantic_ai, matrix, False)
    assert proxied == direct
    output, usage = direct
    assert output
    expected = transcripts.openai_body_usage(COMPLETION)
    assert usage == expected
    await matrix.trace(provider="openai", model="gpt-4o", usage=expected)
