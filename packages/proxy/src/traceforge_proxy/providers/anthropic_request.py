"""OpenAI Chat Completions requests -> Anthropic Messages requests.

Anthropic Messages (https://docs.anthropic.com/en/api/messages) takes a top-level ``system``,
alternating ``user``/``assistant`` messages of content blocks (``text``, ``image``,
``tool_use``, ``tool_result``, ``thinking``), tools with an ``input_schema`` and a required
``max_tokens``.

- ``reasoning_effort`` -> ``thinking: {"type": "enabled", "budget_tokens"}``
  (:data:`~traceforge_proxy.providers.reasoning.THINKING_BUDGETS`); ``max_tokens`` is the
  client's limit (the budget is cut to fit below it) or the budget plus 4096. Anthropic
  allows no ``temperature`` other than 1 and no forced tool with thinking: those are 400s.
- ``response_format`` (``json_schema`` / ``json_object``) -> a forced tool
  :data:`RESPONSE_TOOL` whose ``input_schema`` is the schema (every Claude model has tools,
  https://docs.anthropic.com/en/docs/build-with-claude/tool-use); the answer's call of that
  tool becomes the message text. With thinking (which forbids forced tools) the schema goes
  in ``output_config.format`` instead (structured outputs, Claude 4.5 and later,
  https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs).
- An assistant message's ``thinking_blocks`` (what converted answers carry, with their
  ``signature``) go back as ``thinking`` / ``redacted_thinking`` blocks, first in the turn, as
  Anthropic requires for tool use with thinking.
"""

from __future__ import annotations

import json
import re
from typing import Any

from traceforge_proxy.providers.base import (
    ProviderError,
    ProviderRequest,
    dig,
    invalid_request,
    json_format,
    message_objects,
)
from traceforge_proxy.providers.params import reject_unsupported
from traceforge_proxy.providers.reasoning import (
    MIN_ANTHROPIC_BUDGET,
    THINKING_BUDGETS,
    reasoning_effort,
)

#: ``max_tokens`` sent when the client gave none (Anthropic requires the field).
DEFAULT_MAX_TOKENS = 4096

#: The tool a ``response_format`` becomes: its ``input`` is the answer (see the module doc).
RESPONSE_TOOL = "json_response"

#: OpenAI ``tool_choice`` -> Anthropic ``tool_choice.type``.
TOOL_CHOICE = {"auto": "auto", "required": "any", "none": "none"}

_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def _tool_id(value: Any, where: str) -> str:
    """Anthropic ids must match ``^[a-zA-Z0-9_-]+$``; other characters become ``_``."""
    if not isinstance(value, str) or not value:
        raise invalid_request(f"{where} must be a non-empty string")
    return _BAD_ID_CHARS.sub("_", value)


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise invalid_request(f"{where}.image_url.url must be a string")
    if match := _DATA_URL.fullmatch(url):
        source = {"type": "base64", "media_type": match[1], "data": match[2]}
        return {"type": "image", "source": source}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise invalid_request(f"{where}.image_url.url must be a base64 data: URL or an http(s) URL")


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) -> Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise invalid_request(f"{where}.content must be a string or a list of content parts")
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(part, dict) and kind in ("text", "refusal"):
            text = part.get(kind)
            if isinstance(text, str) and text:
                blocks.append({"type": "text", "text": text})
        elif isinstance(part, dict) and kind == "image_url":
            blocks.append(_image_block(part, f"{where}.content[{j}]"))
        else:
            raise invalid_request(
                f"{where}.content[{j}]: part type {kind!r} is not supported by Anthropic"
            )
    return blocks


def _thinking_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """An assistant message's ``thinking_blocks`` as Anthropic blocks: ``thinking`` (with its
    ``signature``) and ``redacted_thinking`` (``data``); blocks without a signature cannot be
    sent back and are left out."""
    listed = message.get("thinking_blocks")
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise invalid_request(f"{where}.thinking_blocks must be a list")
    blocks: list[dict[str, Any]] = []
    for block in listed:
        kind = dig(block, "type")
        if kind == "thinking" and isinstance(dig(block, "signature"), str) and block["signature"]:
            thinking = block.get("thinking")
            blocks.append(
                {"type": "thinking", "thinking": thinking if isinstance(thinking, str) else ""}
                | {"signature": block["signature"]}
            )
        elif kind == "redacted_thinking" and isinstance(dig(block, "data"), str):
            blocks.append({"type": "redacted_thinking", "data": block["data"]})
    return blocks


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = _thinking_blocks(message, where) + _blocks(message.get("content"), where)
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise invalid_request(f"{where}.tool_calls must be a list")
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise invalid_request(f"{where}.tool_calls[{j}] must have function.name")
        arguments = fn.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError as exc:
                raise invalid_request(
                    f"{where}.tool_calls[{j}].function.arguments is not valid JSON: {exc}"
                ) from None
        if not isinstance(arguments, dict):
            raise invalid_request(
                f"{where}.tool_calls[{j}].function.arguments must be a JSON object"
            )
        call_id = _tool_id(call.get("id"), f"{where}.tool_calls[{j}].id")
        blocks.append({"type": "tool_use", "id": call_id, "name": fn["name"], "input": arguments})
    return blocks


def _messages(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """OpenAI messages -> (system texts, alternating Anthropic messages)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for where, message in message_objects(messages, "{where} must be an object"):
        role = message.get("role")
        if role in ("system", "developer"):
            parts = _blocks(message.get("content"), where)
            if any(part["type"] != "text" for part in parts):
                raise invalid_request(f"{where}.content may only hold text parts")
            system.extend(part["text"] for part in parts)
            continue
        if role == "user":
            blocks = _blocks(message.get("content"), where)
        elif role == "assistant":
            blocks = _assistant_blocks(message, where)
        elif role == "tool":
            role = "user"
            content = message.get("content")
            result = content if isinstance(content, str) else _blocks(content, where)
            tool_use_id = _tool_id(message.get("tool_call_id"), f"{where}.tool_call_id")
            blocks = [{"type": "tool_result", "tool_use_id": tool_use_id, "content": result}]
        else:
            raise invalid_request(f"{where}.role {role!r} is not supported by Anthropic")
        if not blocks:
            continue  # Anthropic rejects empty content
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # Anthropic requires alternating roles
        else:
            out.append({"role": role, "content": blocks})
    for message in out:
        blocks = message["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            message["content"] = blocks[0]["text"]
    return system, out


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise invalid_request("tools must be a list")
    out = []
    for j, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or tool.get("type") != "function" or not fn.get("name"):
            raise invalid_request(f"tools[{j}]: only function tools with a name are supported")
        converted: dict[str, Any] = {"name": fn["name"]}
        if fn.get("description"):
            converted["description"] = fn["description"]
        converted["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
        out.append(converted)
    return out


def _tool_choice(choice: Any, parallel: Any, has_tools: bool) -> dict[str, Any] | None:
    result: dict[str, Any] | None = None
    if isinstance(choice, str) and choice in TOOL_CHOICE:
        result = {"type": TOOL_CHOICE[choice]}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise invalid_request("tool_choice.function.name must be a string")
        result = {"type": "tool", "name": name}
    elif choice is not None:
        raise invalid_request(f"tool_choice {choice!r} is not supported by Anthropic")
    if parallel is False and has_tools and (result is None or result["type"] != "none"):
        result = result or {"type": "auto"}
        result["disable_parallel_tool_use"] = True
    return result


def _thinking(request: dict[str, Any], body: dict[str, Any], limit: Any) -> None:
    """``reasoning_effort`` -> ``body["thinking"]`` and a ``max_tokens`` above the budget."""
    effort = reasoning_effort(request)
    if effort is None or effort == "none":
        return
    budget = THINKING_BUDGETS[effort]
    if limit is None:
        body["max_tokens"] = budget + DEFAULT_MAX_TOKENS
    elif isinstance(limit, int) and limit > MIN_ANTHROPIC_BUDGET:
        budget = min(budget, limit - 1)
    else:
        raise _conflict(
            "max_completion_tokens" if "max_completion_tokens" in request else "max_tokens",
            f"with reasoning_effort, Anthropic needs max tokens above {MIN_ANTHROPIC_BUDGET}"
            " (the thinking budget counts toward it)",
        )
    temperature = request.get("temperature")
    if temperature is not None and temperature != 1:
        raise _conflict("temperature", "Anthropic allows no temperature but 1 with thinking")
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _conflict(param: str, message: str) -> ProviderError:
    return ProviderError(
        400,
        {
            "error": {
                "message": f"{param}: {message}",
                "type": "invalid_request_error",
                "param": param,
                "code": "unsupported_value",
            }
        },
    )


def _response_format(request: dict[str, Any], body: dict[str, Any]) -> None:
    """``response_format`` -> the forced :data:`RESPONSE_TOOL` or, with thinking,
    ``output_config.format`` (see the module docstring)."""
    wanted = json_format(request, "Anthropic")
    if wanted is None:
        return
    schema = wanted if isinstance(wanted, dict) else {"type": "object"}
    if "thinking" in body:
        if wanted == "json":
            instruction = "Answer with one JSON object only, no other text."
            system = body.get("system")
            body["system"] = f"{system}\n\n{instruction}" if system else instruction
        else:
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return
    tools = body.setdefault("tools", [])
    if any(tool.get("name") == RESPONSE_TOOL for tool in tools):
        raise invalid_request(f"tools: the name {RESPONSE_TOOL!r} is taken by response_format")
    description = "Give the answer by calling this tool; its input is the answer."
    tools.append({"name": RESPONSE_TOOL, "description": description, "input_schema": schema})
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else None
    forced: dict[str, Any] = {"type": "tool", "name": RESPONSE_TOOL}
    if len(tools) > 1 and kind in (None, "auto", "any"):
        forced = {"type": "any"}  # the app's tools or the answer, nothing else
    if kind != "tool":
        if isinstance(choice, dict) and choice.get("disable_parallel_tool_use"):
            forced["disable_parallel_tool_use"] = True
        body["tool_choice"] = forced


def build_request(request: dict[str, Any], model: str) -> ProviderRequest:
    """OpenAI chat request -> Anthropic Messages request (``POST /v1/messages``).

    Raises:
        ProviderError: (400) no ``messages`` list, a parameter Anthropic cannot take
            (``code: unsupported_parameter``, see :mod:`~traceforge_proxy.providers.params`),
            ``reasoning_effort`` with a ``temperature`` other than 1, a forced tool or
            max tokens of 1024 or less, invalid tool call arguments, unsupported content
            parts, roles, tools or ``tool_choice``.
    """
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        raise invalid_request("messages must be a list of messages")
    reject_unsupported(request, "anthropic")
    system, converted = _messages(messages)
    limit = request.get("max_completion_tokens")
    limit = request.get("max_tokens") if limit is None else limit
    max_tokens = DEFAULT_MAX_TOKENS if limit is None else limit
    body: dict[str, Any] = {"model": model, "messages": converted, "max_tokens": max_tokens}
    if system:
        body["system"] = "\n\n".join(system)
    tools = request.get("tools")
    if tools is not None:
        body["tools"] = _tools(tools)
    choice = _tool_choice(
        request.get("tool_choice"), request.get("parallel_tool_calls"), bool(tools)
    )
    if choice is not None:
        body["tool_choice"] = choice
    for key in ("temperature", "top_p"):
        if request.get(key) is not None:
            body[key] = request[key]
    stop = request.get("stop")
    if isinstance(stop, str):
        body["stop_sequences"] = [stop]
    elif isinstance(stop, list):
        body["stop_sequences"] = stop
    elif stop is not None:
        raise invalid_request("stop must be a string or a list of strings")
    user = request.get("user")
    user = user if isinstance(user, str) else request.get("safety_identifier")
    if isinstance(user, str):
        body["metadata"] = {"user_id": user}
    _thinking(request, body, limit)
    if "thinking" in body and dig(body, "tool_choice", "type") in ("any", "tool"):
        raise _conflict("tool_choice", "Anthropic cannot force tool use with thinking")
    _response_format(request, body)
    stream = request.get("stream") is True
    if stream:
        body["stream"] = True
    return ProviderRequest(path="/v1/messages", body=body, stream=stream)
