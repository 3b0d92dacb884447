"""OpenAI Responses API requests -> OpenAI Chat Completions requests.

A Responses request (https://platform.openai.com/docs/api-reference/responses/create; ground
truth: ``openai.types.responses.response_create_params`` of the ``openai`` SDK) sent to a
provider without a Responses API (Anthropic, Gemini, Ollama, Cohere) is turned into a chat
completion request, which that provider's chat adapter then converts as usual:

- ``instructions`` -> a first ``system`` message; ``input`` as a string -> one ``user``
  message; ``input`` items: ``message`` items (roles ``user``, ``assistant``, ``system``;
  ``developer`` becomes ``system``) with ``input_text`` / ``output_text`` / ``input_image``
  parts -> messages with ``text`` / ``image_url`` parts; ``function_call`` items -> the
  ``tool_calls`` of one assistant message (consecutive calls share it);
  ``function_call_output`` -> a ``tool`` message; ``reasoning`` items -> the next assistant
  message's ``reasoning_content`` and, when their ``encrypted_content`` is the
  ``thinking_blocks`` a converted answer carried (see
  :mod:`~traceforge_proxy.providers.responses_answer`), those blocks again.
- ``tools`` (function tools, flat ``{type, name, description, parameters, strict}``) ->
  chat ``tools``; ``tool_choice`` likewise; ``text.format`` (``json_schema`` /
  ``json_object``) -> ``response_format``; ``reasoning.effort`` -> ``reasoning_effort``;
  ``max_output_tokens`` -> ``max_tokens``; ``temperature``, ``top_p``,
  ``parallel_tool_calls``, ``top_logprobs``, ``metadata``, ``user``, ``safety_identifier``,
  ``prompt_cache_key``, ``service_tier`` as they are, ``text.verbosity`` as ``verbosity``
  (the chat adapter decides what it maps; :mod:`~traceforge_proxy.providers.responses`
  checks them against the provider's parameter rules, :mod:`~traceforge_proxy.providers.params`,
  naming the Responses parameter in its 400 or dropping it under
  ``proxy.unsupported_params: drop``).
- Responses parameters no converted provider can honour (:data:`RESPONSES_RULES`):
  ``prompt`` (a stored prompt template), ``max_tool_calls``, ``truncation: auto``: listed by
  :func:`unsupported_responses_parameters`, with the same 400 or drop.
- Stateful features need OpenAI's server-side storage: ``previous_response_id``,
  ``conversation``, ``background: true``, ``store: true`` and ``item_reference`` items are a
  400 naming the parameter and the provider. Hosted tools (``web_search``, ``file_search``,
  ...) and ``input_file`` parts are 400s too.
"""

from __future__ import annotations

import json
from typing import Any

from traceforge_proxy.providers.base import ProviderError, compact_json

__all__ = [
    "RESPONSES_RULES",
    "STATEFUL_PARAMETERS",
    "chat_request",
    "unsupported",
    "unsupported_responses_parameters",
]

#: Responses parameters that need OpenAI's stored state; refused for converted providers.
STATEFUL_PARAMETERS = ("previous_response_id", "conversation", "background", "store")

#: Responses-only parameters no converted provider can honour: name -> (why, the values
#: that ask for nothing and pass).
RESPONSES_RULES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "prompt": ("a prompt template stored at OpenAI", (None,)),
    "max_tool_calls": ("no limit on built-in tool calls", (None,)),
    "truncation": ("no automatic truncation of the conversation", (None, "disabled")),
}


def unsupported_responses_parameters(request: Any) -> list[str]:
    """The :data:`RESPONSES_RULES` parameters of a Responses request whose values ask for
    something a converted provider cannot give, in :data:`RESPONSES_RULES` order."""
    if not isinstance(request, dict):
        return []
    return [
        name
        for name, (_, harmless) in RESPONSES_RULES.items()
        if name in request and request[name] not in harmless
    ]


#: Parameters copied as they are into the chat request.
_COPIED = (
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "top_logprobs",
    "metadata",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
)


def unsupported(param: str, message: str) -> ProviderError:
    """A 400 in OpenAI's error shape, ``code: unsupported_parameter``, naming ``param``."""
    return ProviderError(
        400,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": "unsupported_parameter",
            }
        },
    )


def _stateful(request: dict[str, Any], provider: str) -> None:
    """Refuse the parameters that need OpenAI's stored responses."""
    for name in STATEFUL_PARAMETERS:
        value = request.get(name)
        if value is None or value is False:
            continue
        raise unsupported(
            name,
            f"{name}: not supported when the Responses API is converted for {provider}: "
            f"{provider} has no stored responses. Send the whole conversation in `input` "
            + ("(and leave `store` unset or false)." if name == "store" else "instead."),
        )


def _text_parts(content: Any, where: str, provider: str) -> list[dict[str, Any]]:
    """A message item's ``content`` (string or parts) -> chat content parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _invalid(f"{where}.content: expected a string or a list of parts")
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        here = f"{where}.content[{i}]"
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise unsupported(
                    f"{here}.file_id",
                    f"{here}: images by file_id are not supported for {provider}; "
                    "send image_url (a URL or a data: URL)",
                )
            image: dict[str, Any] = {"url": url}
            if isinstance(part.get("detail"), str):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise unsupported(here, f"{here}.type: {kind!r} is not supported for {provider}")
    return parts


def _invalid(message: str) -> ProviderError:
    return ProviderError(
        400,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
    )


def _joined_text(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only parts as one string (what assistant and system messages take)."""
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _thinking_blocks(item: dict[str, Any]) -> list[Any] | None:
    """The ``thinking_blocks`` a converted reasoning item carries in ``encrypted_content``."""
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str) or not encrypted.startswith("["):
        return None
    try:
        blocks = json.loads(encrypted)
    except ValueError:
        return None
    return blocks if isinstance(blocks, list) else None


class _Messages:
    """Builds the chat messages of one request, item by item."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._reasoning: list[str] = []
        self._blocks: list[Any] = []

    def assistant(self) -> dict[str, Any]:
        """The assistant message to add tool calls to: the last one if it has no tool
        results after it, else a new one (with the pending reasoning)."""
        last = self.messages[-1] if self.messages else None
        if last is not None and last.get("role") == "assistant" and not self._reasoning:
            return last
        return self.add({"role": "assistant", "content": None})

    def add(self, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("role") == "assistant":
            if self._reasoning:
                message["reasoning_content"] = "".join(self._reasoning)
            if self._blocks:
                message["thinking_blocks"] = self._blocks
            self._reasoning, self._blocks = [], []
        self.messages.append(message)
        return message

    def reasoning(self, item: dict[str, Any]) -> None:
        summary = item.get("summary")
        for part in summary if isinstance(summary, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                self._reasoning.append(part["text"])
        content = item.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                self._reasoning.append(part["text"])
        self._blocks.extend(_thinking_blocks(item) or [])


def _input_messages(request: dict[str, Any], provider: str) -> list[dict[str, Any]]:
    built = _Messages()
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        built.add({"role": "system", "content": instructions})
    elif instructions is not None and not isinstance(instructions, str):
        raise unsupported(
            "instructions", f"instructions: only a string is supported for {provider}"
        )
    items = request.get("input")
    if isinstance(items, str):
        built.add({"role": "user", "content": items})
        return built.messages
    if not isinstance(items, list) or not items:
        raise _invalid("input: expected a string or a non-empty list of items")
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise _invalid(f"{where}: expected an object")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise _invalid(f"{where}.role: expected user, assistant, system or developer")
            parts = _text_parts(item.get("content"), where, provider)
            if role == "user":
                built.add({"role": "user", "content": parts})
            else:
                chat_role = "system" if role == "developer" else role
                built.add({"role": chat_role, "content": _joined_text(parts)})
        elif kind == "function_call":
            message = built.assistant()
            arguments = item.get("arguments")
            message.setdefault("tool_calls", []).append(
                {
                    "id": item.get("call_id"),
                    "type": "function",
                    "function": {
                        "name": item.get("name"),
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else compact_json(arguments),
                    },
                }
            )
        elif kind == "function_call_output":
            output = item.get("output")
            if isinstance(output, list):
                output = _joined_text(_text_parts(output, where, provider))
            built.add(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "content": output if isinstance(output, str | list) else compact_json(output),
                }
            )
        elif kind == "reasoning":
            built.reasoning(item)
        elif kind == "item_reference":
            raise unsupported(
                f"{where}.type",
                f"{where}: item_reference needs OpenAI's stored items; {provider} has none. "
                "Send the items themselves.",
            )
        else:
            raise unsupported(
                f"{where}.type",
                f"{where}.type: {kind!r} items are not supported when the Responses API is "
                f"converted for {provider}",
            )
    return built.messages


def _tools(request: dict[str, Any], chat: dict[str, Any], provider: str) -> None:
    tools = request.get("tools")
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise _invalid("tools: expected a list")
    converted = []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function" or not isinstance(tool, dict):
            raise unsupported(
                f"tools[{i}].type",
                f"tools[{i}].type: {kind!r} is a tool OpenAI hosts; only function tools are "
                f"supported for {provider}",
            )
        function = {
            k: tool[k]
            for k in ("name", "description", "parameters", "strict")
            if tool.get(k) is not None
        }
        converted.append({"type": "function", "function": function})
    if converted:
        chat["tools"] = converted
    choice = request.get("tool_choice")
    if isinstance(choice, str):
        chat["tool_choice"] = choice
    elif isinstance(choice, dict):
        if choice.get("type") != "function" or not isinstance(choice.get("name"), str):
            raise unsupported(
                "tool_choice",
                f"tool_choice: {choice.get('type')!r} is not supported for {provider}; "
                "use auto, none, required or a function",
            )
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}


def _text_format(request: dict[str, Any], chat: dict[str, Any]) -> None:
    text = request.get("text")
    if isinstance(text, dict) and text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind not in (None, "text"):
        raise unsupported("text.format.type", f"text.format.type: {kind!r} is not supported")


def chat_request(request: Any, provider: str) -> dict[str, Any]:
    """Convert a Responses API request body into a chat completion request body.

    Args:
        request: the client's decoded ``POST /v1/responses`` body.
        provider: the provider it goes to (named in error messages).

    Returns:
        the chat completion request (``model``, ``messages``, ``tools``, ``stream`` and
        ``stream_options.include_usage`` for streams, ...), for the provider's chat adapter.

    Raises:
        ProviderError: (400, OpenAI's error shape) the body is not an object, ``input`` is
            missing, or it asks for something the conversion cannot give (stateful
            parameters, hosted tools, file inputs); ``error.param`` names the field.
    """
    if not isinstance(request, dict):
        raise _invalid("the request body must be a JSON object")
    _stateful(request, provider)
    chat: dict[str, Any] = {"model": request.get("model"), "messages": []}
    chat["messages"] = _input_messages(request, provider)
    _tools(request, chat, provider)
    _text_format(request, chat)
    reasoning = request.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort is not None:
        chat["reasoning_effort"] = effort
    if request.get("max_output_tokens") is not None:
        chat["max_tokens"] = request["max_output_tokens"]
    for name in _COPIED:
        if request.get(name) is not None:
            chat[name] = request[name]
    if request.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat
