"""OpenAI Chat Completions requests -> Anthropic Messages requests.

Anthropic Messages (https://docs.anthropic.com/en/api/messages) takes a top-level ``system``,
alternating ``user``/``assistant`` messages of content blocks (``text``, ``image``,
``tool_use``, ``tool_result``), tools with an ``input_schema`` and a required ``max_tokens``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from traceforge_proxy.providers.base import ProviderRequest, invalid_request, message_objects

#: ``max_tokens`` sent when the client gave none (Anthropic requires the field).
DEFAULT_MAX_TOKENS = 4096

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


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = _blocks(message.get("content"), where)
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


def build_request(request: dict[str, Any], model: str) -> ProviderRequest:
    """OpenAI chat request -> Anthropic Messages request (``POST /v1/messages``).

    Raises:
        ProviderError: (400) no ``messages`` list, ``n`` > 1, ``logprobs``, invalid tool
            call arguments, unsupported content parts, roles, tools or ``tool_choice``.
    """
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        raise invalid_request("messages must be a list of messages")
    if isinstance(n := request.get("n"), int) and n > 1:
        raise invalid_request("n > 1 is not supported by Anthropic (one choice per request)")
    if request.get("logprobs"):
        raise invalid_request("logprobs are not supported by Anthropic")
    system, converted = _messages(messages)
    max_tokens = request.get("max_completion_tokens")
    max_tokens = request.get("max_tokens") if max_tokens is None else max_tokens
    max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
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
    if isinstance(request.get("user"), str):
        body["metadata"] = {"user_id": request["user"]}
    stream = request.get("stream") is True
    if stream:
        body["stream"] = True
    return ProviderRequest(path="/v1/messages", body=body, stream=stream)
