"""A small LLM app whose tests record its calls once and replay them in CI (README.md).

Three calls, on the official SDKs, each client configured from the environment as usual
(``OPENAI_BASE_URL``/``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL``/``ANTHROPIC_API_KEY``):

- :func:`weather_tool_call`: an OpenAI chat completion, streamed, that calls a tool
  (https://platform.openai.com/docs/api-reference/chat/create).
- :func:`summary`: an OpenAI Responses call (https://platform.openai.com/docs/api-reference/responses).
- :func:`haiku`: an Anthropic Messages stream (https://docs.anthropic.com/en/api/messages-streaming).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
from openai.types.chat import ChatCompletionFunctionToolParam

WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for: the function's name and its decoded arguments."""

    name: str
    arguments: dict[str, Any]


def weather_tool_call(city: str, client: openai.OpenAI | None = None) -> ToolCall:
    """Ask for the weather in ``city``; return the tool call the model streams back.

    Raises:
        openai.APIError: the API refused the call.
        LookupError: the model answered without calling a tool.
    """
    client = client or openai.OpenAI()
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"What is the weather in {city}?"}],
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    name, arguments = "", ""
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                if call.function is not None:
                    name += call.function.name or ""
                    arguments += call.function.arguments or ""
    if not name:
        raise LookupError("the model did not call a tool")
    return ToolCall(name, json.loads(arguments or "{}"))


def summary(text: str, client: openai.OpenAI | None = None) -> str:
    """One-sentence summary of ``text`` (Responses API); the model's output text.

    Raises:
        openai.APIError: the API refused the call.
    """
    client = client or openai.OpenAI()
    response = client.responses.create(
        model="gpt-4.1-mini", input=f"Summarize in one sentence: {text}"
    )
    return response.output_text


def haiku(topic: str, client: anthropic.Anthropic | None = None) -> str:
    """A haiku about ``topic``, streamed from Claude; the whole text.

    Raises:
        anthropic.APIError: the API refused the call.
    """
    client = client or anthropic.Anthropic()
    with client.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=200,
        messages=[{"role": "user", "content": f"Write a haiku about {topic}."}],
    ) as stream:
        return "".join(stream.text_stream)
