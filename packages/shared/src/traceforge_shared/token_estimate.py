"""A local estimate of a call's token usage, for providers that report none.

Some OpenAI-compatible servers send no ``usage`` on streams (and the proxy does not ask them
for it where the server would refuse ``stream_options``). Rather than record 0 tokens and
$0, the trace gets an estimate flagged ``Usage.estimated = True`` (shown with ``~``).

How it counts: one token per 4 characters, rounded up, per text (OpenAI's rule of thumb for
English, https://help.openai.com/en/articles/4936856), plus OpenAI's chat overhead of 3 tokens
per message and 3 to prime the reply
(https://github.com/openai/openai-cookbook/blob/main/examples/How_to_count_tokens_with_tiktoken.ipynb).
Expect ±30 % on English, worse on code and other languages. tiktoken is not used: it downloads
its encodings from the network on first use, and the proxy makes no network calls of its own.

Text counted: request ``messages[].content`` (strings and text parts), tool-call arguments,
``tools`` as JSON, a Responses ``input``/``instructions``; answer text, reasoning, refusal
and tool-call arguments of a ``chat.completion`` (or a Responses ``output``). Images, audio
and files are not counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from traceforge_shared.trace import Usage

#: Tokens OpenAI adds per chat message and to prime the reply.
_PER_MESSAGE = 3
_REPLY_PRIMING = 3


def approx_tokens(text: str) -> int:
    """Tokens in ``text`` by the 4-characters-per-token rule, rounded up (0 for ``""``)."""
    return math.ceil(len(text) / 4)


def _texts(value: Any) -> Iterator[str]:
    """Strings of a message ``content``: the string itself or the ``text`` of each part."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for part in value:
            if isinstance(part, str):
                yield part
            elif isinstance(part, dict):
                for key in ("text", "refusal"):
                    if isinstance(part.get(key), str):
                        yield part[key]
                if isinstance(part.get("content"), list | str):  # Responses input items
                    yield from _texts(part["content"])
                if isinstance(part.get("arguments"), str):
                    yield part["arguments"]


def _message_texts(message: dict[str, Any]) -> Iterator[str]:
    for key in ("content", "reasoning_content", "refusal"):
        yield from _texts(message.get(key))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                for key in ("name", "arguments"):
                    if isinstance(function.get(key), str):
                        yield function[key]


def _prompt_parts(request: Any) -> tuple[list[str], int]:
    """The request's texts and its number of chat messages."""
    if not isinstance(request, dict):
        return [], 0
    texts: list[str] = []
    messages = request.get("messages")
    count = 0
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                count += 1
                texts.extend(_message_texts(message))
    texts.extend(_texts(request.get("input")))
    texts.extend(_texts(request.get("instructions")))
    tools = request.get("tools")
    if tools:
        texts.append(json.dumps(tools, separators=(",", ":"), default=str))
    return texts, count


def _completion_parts(response: Any) -> list[str]:
    if not isinstance(response, dict):
        return []
    texts: list[str] = []
    choices = response.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                texts.extend(_message_texts(message))
    texts.extend(_texts(response.get("output")))
    return texts


def estimate_usage(request: Any, response: Any, model: str) -> Usage | None:
    """Estimate the usage of a call from its request and answer (see the module doc).

    Args:
        request: the request body (Chat Completions or Responses shape).
        response: the answer (``chat.completion`` or Responses ``response``).
        model: the model name (kept for a per-model tokenizer; not used by the
            approximation).

    Returns:
        a :class:`Usage` with ``estimated=True``, or ``None`` when neither side holds text to
        count.
    """
    prompt_texts, messages = _prompt_parts(request)
    completion_texts = _completion_parts(response)
    if not prompt_texts and not completion_texts:
        return None
    overhead = messages * _PER_MESSAGE + (_REPLY_PRIMING if messages else 0)
    prompt = sum(approx_tokens(t) for t in prompt_texts) + overhead
    completion = sum(approx_tokens(t) for t in completion_texts)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        estimated=True,
    )
