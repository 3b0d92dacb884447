"""Ollama adapter: OpenAI Chat Completions to and from Ollama's native ``/api/chat``.

Source of the Ollama format: https://github.com/ollama/ollama/blob/main/docs/api.md
("Generate a chat completion", "Generate a completion") and ``api/types.go``
(``ChatRequest``, ``Message``, ``ToolCall``, ``ChatResponse``, ``Metrics``). The shapes:

- request ``{"model", "messages": [{"role", "content": str, "images": [base64],
  "tool_calls": [{"function": {"name", "arguments": {object}}}], "tool_name"}], "tools",
  "format": "json" | {schema}, "options": {"temperature", "num_predict", ...}, "stream"}``;
  ``stream`` defaults to **true**, so it is always sent.
- answer (and each NDJSON stream line) ``{"model", "created_at", "message": {"role",
  "content", "thinking", "tool_calls"}, "done", "done_reason", "prompt_eval_count",
  "eval_count", ...}``; ``/api/generate`` lines carry ``"response"`` instead of ``"message"``.
  Tool calls arrive whole, with ``arguments`` as an object; the last line has ``done: true``
  and the counts; an error after the stream started is a final ``{"error": "..."}`` line.

Everything is pure: ids Ollama does not send are derived from the input (sha256).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from traceforge_proxy.providers import base
from traceforge_proxy.providers.chunks import ChunkBuilder, completion
from traceforge_proxy.providers.params import reject_unsupported
from traceforge_proxy.providers.reasoning import reasoning_effort
from traceforge_shared.usage import usage_from_ollama

#: OpenAI sampling fields that keep their names in Ollama's ``options``.
_SAME_OPTIONS = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")
#: Leading base64 characters of common image formats (for data-URL media types).
_IMAGE_MAGIC = {"iVBORw0KGgo": "png", "/9j/": "jpeg", "R0lGOD": "gif", "UklGR": "webp"}
#: OpenAI error ``type`` and ``code`` by HTTP status (others: 5xx server_error, else invalid).
_ERROR_KINDS = {
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def _sha(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def _completion_id(model: str, created_at: str) -> str:
    return "chatcmpl-ollama-" + _sha(model + created_at, 16)


def _call_id(created_at: str, position: int, name: str) -> str:
    return "call_" + _sha(f"{created_at}:{position}:{name}", 24)


def _text(value: Any) -> str:
    """``value`` if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def _finish_reason(done_reason: Any, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    return "length" if done_reason == "length" else "stop"


def _usage(body: dict[str, Any]) -> base.StreamUsage:
    """``prompt_eval_count``/``eval_count`` (:func:`traceforge_shared.usage.usage_from_ollama`)."""
    return base.StreamUsage.of(usage_from_ollama(body), details=False)


def _message_of(body: dict[str, Any]) -> dict[str, Any]:
    """The ``message`` of a chat answer, or the generate answer's fields in its shape."""
    message = body.get("message")
    if isinstance(message, dict):
        return message
    return {"content": body.get("response"), "thinking": body.get("thinking")}


def _openai_calls(calls: Any, seed: str, start: int) -> list[dict[str, Any]]:
    """Ollama ``tool_calls`` as OpenAI ones: Ollama's ``id`` when it sent one, else
    ``call_`` + sha256 of ``seed:position:name``; arguments as compact JSON text."""
    out: list[dict[str, Any]] = []
    for call in calls if isinstance(calls, list) else ():
        if not isinstance(base.dig(call, "function"), dict):
            continue
        name = _text(call["function"].get("name"))
        arguments = call["function"].get("arguments")
        if not isinstance(arguments, str):
            arguments = msgspec.json.encode({} if arguments is None else arguments).decode()
        call_id = _text(call.get("id")) or _call_id(seed, start + len(out), name)
        out.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        )
    return out


def _error_text(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str):
            return error
        return msgspec.json.encode(body).decode()
    return body.strip() if isinstance(body, str) else ""


def _split_content(content: Any, where: str) -> tuple[str, list[str]]:
    """OpenAI message content as Ollama's text (text parts joined by ``\\n``) and images."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise base.invalid_request(f"{where}.content: expected a string or a list of content parts")
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content):
        kind = base.dig(part, "type")
        if kind in ("text", "refusal"):
            texts.append(_text(part.get(kind)))
        elif kind == "image_url":
            url = base.dig(part, "image_url", "url") or part.get("image_url")
            header, comma, data = _text(url).partition(",")
            if not header.startswith("data:"):
                raise base.invalid_request(
                    f"{where}.content[{j}].image_url: Ollama takes base64 images only "
                    "(data: URLs); fetch the image and send it inline"
                )
            if not comma or not header.endswith(";base64"):
                raise base.invalid_request(
                    f"{where}.content[{j}].image_url: data URL is not base64"
                )
            images.append(data)
        else:
            problem = f"{where}.content[{j}]: content part {kind!r} not supported by Ollama"
            raise base.invalid_request(problem)
    return "\n".join(texts), images


def _ollama_call(call: Any, where: str, names: dict[str, str]) -> dict[str, Any]:
    name = base.dig(call, "function", "name")
    if not isinstance(name, str) or not name:
        raise base.invalid_request(f"{where}.function.name: missing")
    arguments = base.dig(call, "function", "arguments")
    if isinstance(arguments, str):
        try:
            arguments = msgspec.json.decode(arguments) if arguments.strip() else {}
        except msgspec.DecodeError:
            raise base.invalid_request(f"{where}.function.arguments: not valid JSON") from None
    if not isinstance(arguments, dict) and arguments is not None:
        raise base.invalid_request(f"{where}.function.arguments: Ollama needs a JSON object")
    if isinstance(base.dig(call, "id"), str):
        names[call["id"]] = name
    return {"function": {"name": name, "arguments": arguments or {}}}


def _ollama_messages(messages: list[Any]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # OpenAI tool_call_id -> function name, for tool_name
    out: list[dict[str, Any]] = []
    for where, message in base.message_objects(messages, "{where}: expected an object"):
        role = message.get("role")
        role = {"developer": "system", "function": "tool"}.get(str(role), role)
        if role not in ("system", "user", "assistant", "tool"):
            raise base.invalid_request(
                f"{where}.role: {message.get('role')!r} not supported by Ollama"
            )
        text, images = _split_content(message.get("content"), where)
        item: dict[str, Any] = {"role": role, "content": text}
        if images:
            item["images"] = images
        if role == "assistant":
            if _text(message.get("reasoning_content")):
                item["thinking"] = message["reasoning_content"]
            calls = message.get("tool_calls") or []
            if calls:
                item["tool_calls"] = [
                    _ollama_call(call, f"{where}.tool_calls[{j}]", names)
                    for j, call in enumerate(calls if isinstance(calls, list) else [calls])
                ]
        elif role == "tool":
            call_id = message.get("tool_call_id")
            name = names.get(call_id) if isinstance(call_id, str) else None
            name = name or message.get("name")
            if isinstance(name, str) and name:
                item["tool_name"] = name
        out.append(item)
    return out


def _data_url(image: str) -> str:
    media = next((kind for magic, kind in _IMAGE_MAGIC.items() if image.startswith(magic)), "png")
    return f"data:image/{media};base64,{image}"


def _openai_messages(messages: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    unanswered: list[tuple[str, str]] = []  # (name, id) of tool calls awaiting a result
    for i, message in enumerate(messages if isinstance(messages, list) else ()):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text = _text(message.get("content"))
        images = [image for image in message.get("images") or () if isinstance(image, str)]
        item: dict[str, Any] = {"role": role, "content": text}
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            parts += [{"type": "image_url", "image_url": {"url": _data_url(b64)}} for b64 in images]
            item["content"] = parts
        if role == "assistant":
            if _text(message.get("thinking")):
                item["reasoning_content"] = message["thinking"]
            calls = _openai_calls(message.get("tool_calls"), f"messages[{i}]", 0)
            if calls:
                item["content"] = item["content"] or None
                item["tool_calls"] = calls
                unanswered += [(call["function"]["name"], call["id"]) for call in calls]
        elif role == "tool":
            name = message.get("tool_name")
            match = next((pair for pair in unanswered if pair[0] == name), None)
            if match is None and unanswered and not name:
                match = unanswered[0]
            if match is not None:
                unanswered.remove(match)
                item["tool_call_id"] = match[1]
        out.append(item)
    return out


def _think(effort: str, model: str) -> bool | str:
    """``reasoning_effort`` -> Ollama ``think``: ``false`` for ``none``; for ``gpt-oss``
    models the level it takes (``low``, ``medium``, ``high``); else ``true``."""
    if effort == "none":
        return False
    if model.startswith("gpt-oss"):
        return {"minimal": "low", "xhigh": "high", "max": "high"}.get(effort, effort)
    return True


class OllamaStream(base.ChunkStream):
    """Converts one Ollama NDJSON stream (``/api/chat`` or ``/api/generate`` lines, each
    decoded, ``event`` ``None``) into ``chat.completion.chunk`` objects."""

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        super().__init__(
            ChunkBuilder(
                id=_completion_id(model, ""),
                model=model,
                created=created,
                include_usage=include_usage,
                role_pending=True,
            )
        )
        self._started = False
        self._calls = 0

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one decoded NDJSON line (see :class:`StreamConverter`)."""
        if self.error is not None or not isinstance(payload, dict):
            return []
        if payload.get("error"):
            self.error = base.openai_error(500, _error_text(payload), "server_error")
            return [self.error.body]
        created_at = str(payload.get("created_at") or "")
        if not self._started:
            self._started = True
            self._chunks.model = _text(payload.get("model")) or self._chunks.model
            self._chunks.id = _completion_id(self._chunks.model, created_at)
        message = _message_of(payload)
        delta: dict[str, Any] = {}
        if _text(message.get("content")):
            delta["content"] = message["content"]
        if _text(message.get("thinking")):
            delta["reasoning_content"] = message["thinking"]
        calls = _openai_calls(message.get("tool_calls"), created_at, self._calls)
        if calls:
            delta["tool_calls"] = [{"index": self._calls + n, **c} for n, c in enumerate(calls)]
            self._calls += len(calls)
        chunks = [self._chunks.delta(delta)] if delta or self._chunks.role_pending else []
        if payload.get("done"):
            self.usage.update_from(_usage(payload))
            reason = _finish_reason(payload.get("done_reason"), self._calls > 0)
            chunks.append(self._chunks.finish(reason))
        return chunks


class OllamaAdapter:
    """:class:`~traceforge_proxy.providers.base.ProviderAdapter` for Ollama (``/api/chat``)."""

    name = "ollama"

    def build_request(self, request: dict[str, Any], *, model: str) -> base.ProviderRequest:
        """OpenAI request -> ``POST /api/chat`` body (see the module docstring for shapes).

        ``reasoning_effort`` becomes ``think`` (:func:`_think`).

        Raises:
            ProviderError: 400 for what Ollama cannot take: a parameter it has no use for
                (``code: unsupported_parameter``, see :mod:`~.params`), http(s) image URLs
                (base64 only), non-text/image parts, a forced ``tool_choice``, bad tool
                arguments.
        """
        reject_unsupported(request, "ollama")
        messages = base.one_choice_messages(request, "Ollama")
        stream = bool(request.get("stream"))
        body: dict[str, Any] = {"model": model, "messages": _ollama_messages(messages)}
        if (effort := reasoning_effort(request)) is not None:
            body["think"] = _think(effort, model)
        tool_choice = request.get("tool_choice")
        if tool_choice not in (None, "auto", "none"):
            raise base.invalid_request(
                'tool_choice: Ollama cannot force tool use; use "auto" or "none"'
            )
        if request.get("tools") and tool_choice != "none":
            body["tools"] = request["tools"]
        if (wanted := base.json_format(request, "Ollama")) is not None:
            body["format"] = wanted
        options = {k: request[k] for k in _SAME_OPTIONS if request.get(k) is not None}
        if (limit := base.max_tokens(request)) is not None:
            options["num_predict"] = limit
        stop = request.get("stop")
        if stop:
            options["stop"] = [stop] if isinstance(stop, str) else stop
        if options:
            body["options"] = options
        body["stream"] = stream  # explicit: Ollama streams when it is missing
        return base.ProviderRequest("/api/chat", body, stream)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """A non-streaming ``/api/chat`` (or ``/api/generate``) body -> ``chat.completion``."""
        if not isinstance(body, dict):
            raise base.openai_error(502, "Ollama answered with a non-object body", "server_error")
        if body.get("error"):
            raise self.convert_error(500, body)
        created_at = str(body.get("created_at") or "")
        answer_model = body.get("model") if isinstance(body.get("model"), str) else model
        message = _message_of(body)
        calls = _openai_calls(message.get("tool_calls"), created_at, 0)
        content = _text(message.get("content")) or (None if calls else "")
        out: dict[str, Any] = {"role": "assistant", "content": content}
        if _text(message.get("thinking")):
            out["reasoning_content"] = message["thinking"]
        if calls:
            out["tool_calls"] = calls
        finish_reason = _finish_reason(body.get("done_reason"), bool(calls))
        completion_id = _completion_id(answer_model or "", created_at)
        usage = _usage(body).as_openai()
        return completion(completion_id, answer_model, created, out, finish_reason, usage)

    def stream_converter(self, *, model: str, created: int, include_usage: bool) -> OllamaStream:
        """A converter for one NDJSON stream (frame it with ``traceforge_proxy.ndjson``)."""
        return OllamaStream(model=model, created=created, include_usage=include_usage)

    def convert_error(self, status: int, body: Any) -> base.ProviderError:
        """``{"error": "..."}`` (or text) with its HTTP status -> OpenAI's error shape; a 404
        "not found" is OpenAI's ``model_not_found``."""
        message = _error_text(body) or f"Ollama returned HTTP {status}"
        if status == 404 and "not found" in message:
            return base.openai_error(404, message, "invalid_request_error", "model_not_found")
        return base.status_error(status, message, _ERROR_KINDS)

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """A native ``/api/chat`` body (or ``/api/generate``: ``system`` + ``prompt``) ->
        OpenAI request: images as data-URL parts, tool calls with stable ids (tool results
        matched by ``tool_name``), ``options`` as sampling fields, ``format`` as
        ``response_format``; ``stream`` is true unless the body says false."""
        if not isinstance(body, dict):
            return {"model": None, "messages": [], "stream": True}
        out: dict[str, Any] = {"model": body.get("model")}
        if "messages" not in body and "prompt" in body:
            messages: list[dict[str, Any]] = []
            if _text(body.get("system")):
                messages.append({"role": "system", "content": body["system"]})
            user = {
                "role": "user",
                "content": _text(body.get("prompt")),
                "images": body.get("images"),
            }
            messages += _openai_messages([user])
            out["messages"] = messages
        else:
            out["messages"] = _openai_messages(body.get("messages"))
        if body.get("tools"):
            out["tools"] = body["tools"]
        options: dict[str, Any] = body["options"] if isinstance(body.get("options"), dict) else {}
        out |= {key: options[key] for key in _SAME_OPTIONS if options.get(key) is not None}
        if options.get("num_predict") is not None:
            out["max_tokens"] = options["num_predict"]
        if options.get("stop"):
            out["stop"] = options["stop"]
        fmt = body.get("format")
        if fmt == "json":
            out["response_format"] = {"type": "json_object"}
        elif isinstance(fmt, dict):
            schema = {"name": "response", "schema": fmt}
            out["response_format"] = {"type": "json_schema", "json_schema": schema}
        out["stream"] = body.get("stream") is not False
        return out
