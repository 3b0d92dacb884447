"""Reasoning through the proxy, from real recorded streams (``tests/data/provider-streams``,
provenance in its README), driven with the ``openai`` SDK:

- Groq's ``delta.reasoning`` (relayed as is) is kept in the trace's rebuilt completion;
- Anthropic thinking, converted, reaches the app as ``reasoning_content`` plus the block's
  ``signature`` in ``thinking_blocks``, and goes back as a signed thinking block next turn;
- Cohere ``thinking`` content, converted, reaches the app as ``reasoning_content`` and goes
  back as a thinking content item.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai.types.chat import ChatCompletionMessageParam

from traceforge_proxy.testing import RecordingUpstream, saved_traces
from traceforge_shared.config import Config, UpstreamConfig
from traceforge_shared.views import reasoning_text

from .conftest import MakeProxy, Sdk

DATA = Path(__file__).parent / "data" / "provider-streams"
ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Divide the previous result by 5."}
]
SSE = "text/event-stream"


def _payloads(name: str) -> list[Any]:
    """The decoded ``data:`` payloads of a recorded SSE file (``[DONE]`` left out)."""
    text = (DATA / name).read_text(encoding="utf-8")
    return [
        json.loads(line[6:])
        for line in text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


async def _proxy(make_proxy: Any, provider: str, url: str) -> Any:
    config = Config()
    config.upstreams[provider] = UpstreamConfig(base_url=url)
    return await make_proxy(default_provider=None, config=config)


async def _stream(client: Any, model: str, messages: list[Any]) -> list[Any]:
    stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
    return [chunk async for chunk in stream]


def _joined(chunks: list[Any], field: str) -> str:
    return "".join(
        getattr(chunk.choices[0].delta, field, None) or "" for chunk in chunks if chunk.choices
    )


async def test_groq_reasoning_stream_is_kept_in_the_trace(make_proxy: MakeProxy, sdk: Sdk) -> None:
    recorded = _payloads("groq/chat-stream-reasoning.sse")
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning", "") for c in recorded)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in recorded)
    upstream = RecordingUpstream((DATA / "groq/chat-stream-reasoning.sse").read_bytes(), SSE)
    async with upstream as url:
        service = await _proxy(make_proxy, "groq", url + "/openai/v1")
        chunks = await _stream(sdk(service), "groq/qwen/qwen3-32b", ASK)
    assert reasoning.startswith("Okay, let me try to figure out") and content
    assert _joined(chunks, "reasoning") == reasoning  # relayed as is
    (trace,) = await saved_traces(service)
    message = trace.response["choices"][0]["message"]
    assert (message["reasoning"], message["content"]) == (reasoning, content)
    assert "reasoning_content" not in message
    assert reasoning_text(trace) == reasoning


async def test_anthropic_thinking_stream_round_trip(make_proxy: MakeProxy, sdk: Sdk) -> None:
    recorded = _payloads("anthropic-messages/stream-thinking.sse")
    deltas = [p["delta"] for p in recorded if p["type"] == "content_block_delta"]
    thinking = "".join(d.get("thinking", "") for d in deltas)
    (signature,) = [d["signature"] for d in deltas if d["type"] == "signature_delta"]
    upstream = RecordingUpstream(
        (DATA / "anthropic-messages/stream-thinking.sse").read_bytes(), SSE
    )
    async with upstream as url:
        service = await _proxy(make_proxy, "anthropic", url)
        client = sdk(service)
        chunks = await _stream(client, "claude-sonnet-4-5", ASK)
        assert _joined(chunks, "reasoning_content") == thinking
        assert _joined(chunks, "content") == "925 ÷ 5 = 185"
        blocks = [
            block
            for chunk in chunks
            if chunk.choices
            for block in getattr(chunk.choices[0].delta, "thinking_blocks", None) or []
        ]
        assert blocks == [{"type": "thinking", "thinking": thinking, "signature": signature}]
        # the next turn sends the assistant message back as the app got it
        assistant = {
            "role": "assistant",
            "content": "925 ÷ 5 = 185",
            "reasoning_content": thinking,
            "thinking_blocks": blocks,
        }
        await _stream(client, "claude-sonnet-4-5", [*ASK, assistant, *ASK])
    first, second = await saved_traces(service, expected=2)
    message = first.response["choices"][0]["message"]
    assert message["reasoning_content"] == thinking
    assert message["thinking_blocks"] == blocks
    assert reasoning_text(first) == thinking
    sent = upstream.bodies[1]["messages"][1]
    assert sent == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": thinking, "signature": signature},
            {"type": "text", "text": "925 ÷ 5 = 185"},
        ],
    }
    assert second.native is not None and second.native.request["messages"][1] == sent


async def test_anthropic_thinking_answer_carries_signature(make_proxy: MakeProxy, sdk: Sdk) -> None:
    recorded = json.loads((DATA / "anthropic-messages/message-thinking.json").read_bytes())
    upstream = RecordingUpstream(json.dumps(recorded).encode(), "application/json")
    async with upstream as url:
        service = await _proxy(make_proxy, "anthropic", url)
        completion = await sdk(service).chat.completions.create(
            model="claude-sonnet-4-5", messages=ASK, reasoning_effort="low", max_tokens=4000
        )
    message = completion.choices[0].message
    block = recorded["content"][0]
    assert getattr(message, "reasoning_content", None) == block["thinking"]
    assert getattr(message, "thinking_blocks", None) == [block]
    assert upstream.bodies[0]["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_cohere_thinking_stream_and_answer_round_trip(
    make_proxy: MakeProxy, sdk: Sdk
) -> None:
    recorded = _payloads("cohere/chat-stream-thinking.sse")
    items = [p["delta"]["message"]["content"] for p in recorded if p["type"] == "content-delta"]
    thinking = "".join(item.get("thinking", "") for item in items)
    text = "".join(item.get("text", "") for item in items)
    model = "command-a-reasoning-08-2025"
    upstream = RecordingUpstream((DATA / "cohere/chat-stream-thinking.sse").read_bytes(), SSE)
    async with upstream as url:
        service = await _proxy(make_proxy, "cohere", url)
        client = sdk(service)
        chunks = await _stream(client, model, ASK)
        assert thinking.startswith("The user is asking for the sum of 2 and 2.")
        assert (_joined(chunks, "reasoning_content"), _joined(chunks, "content")) == (
            thinking,
            text,
        )
        assistant = {"role": "assistant", "content": text, "reasoning_content": thinking}
        await _stream(client, model, [*ASK, assistant, *ASK])
    first, _ = await saved_traces(service, expected=2)
    assert first.response["choices"][0]["message"]["reasoning_content"] == thinking
    assert upstream.bodies[1]["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": thinking}, {"type": "text", "text": text}],
    }

    answer = json.loads((DATA / "cohere/chat-thinking.json").read_bytes())
    upstream = RecordingUpstream(json.dumps(answer).encode(), "application/json")
    async with upstream as url:
        service = await _proxy(make_proxy, "cohere", url)
        completion = await sdk(service).chat.completions.create(model=model, messages=ASK)
    message = completion.choices[0].message
    thought, said = answer["message"]["content"]
    assert (getattr(message, "reasoning_content", None), message.content) == (
        thought["thinking"],
        said["text"],
    )
