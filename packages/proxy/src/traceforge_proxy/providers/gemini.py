"""Google Gemini adapter: OpenAI Chat Completions <-> Gemini ``generateContent``.

Formats: OpenAI Chat Completions (https://platform.openai.com/docs/api-reference/chat) and the
Gemini API (https://ai.google.dev/api/generate-content): requests hold ``contents`` (role
``user``/``model``, ``parts``), ``systemInstruction``, ``tools``, ``toolConfig`` and
``generationConfig``; a ``GenerateContentResponse`` holds ``candidates``, ``usageMetadata``,
``modelVersion`` and ``responseId``. ``streamGenerateContent?alt=sse`` sends one whole response
per event, each with the next piece and a running-total ``usageMetadata``.

Gemini has no tool-call ids: ids are SHA-256 of response id, candidate, call position and name,
so the same answer always gets the same ids. Gemini 3 wants each call's ``thoughtSignature``
back: converted calls carry it as ``extra_content.google.thought_signature`` (as Google's
OpenAI-compatible endpoint does) and requests return it, or the documented placeholder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from traceforge_proxy.providers.base import (
    ProviderError,
    ProviderRequest,
    StreamUsage,
    openai_error,
)

#: Gemini ``finishReason`` -> OpenAI ``finish_reason`` (others, e.g. ``OTHER``: ``stop``).
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "MALFORMED_FUNCTION_CALL": "stop"}
_FILTER = "content_filter"
_FINISH |= dict.fromkeys(("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT"), _FILTER)
_FINISH |= dict.fromkeys(
    ("SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"), _FILTER
)
#: gRPC ``error.status`` -> OpenAI error ``type`` and ``code``.
_ERRORS: dict[str, tuple[str, str | None]] = {
    "RESOURCE_EXHAUSTED": ("rate_limit_error", "rate_limit_exceeded"),
    "UNAUTHENTICATED": ("authentication_error", "invalid_api_key"),
    "PERMISSION_DENIED": ("authentication_error", "invalid_api_key"),
    "NOT_FOUND": ("invalid_request_error", "model_not_found"),
    "INVALID_ARGUMENT": ("invalid_request_error", None),
    "FAILED_PRECONDITION": ("invalid_request_error", None),
    "UNAVAILABLE": ("server_error", None),
    "INTERNAL": ("server_error", None),
    "DEADLINE_EXCEEDED": ("server_error", None),
}
_HTTP = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_HTTP[404] = "NOT_FOUND"
_MIME = {"png": "image/png", "gif": "image/gif", "webp": "image/webp", "heic": "image/heic"}
#: JSON Schema features Gemini's ``Schema`` (an OpenAPI 3.0 subset) lacks, e.g. in OpenAI strict
#: schemas: such schemas go in ``parametersJsonSchema`` / ``responseJsonSchema`` instead.
_JSON_SCHEMA_ONLY = re.compile(
    r'"(additionalProperties|patternProperties|\$ref|\$defs|definitions|\$schema|const|oneOf|allOf'
    r'|not|if)":|"type":\['
)
#: OpenAI request field -> ``generationConfig`` field.
_SAMPLING = {"temperature": "temperature", "top_p": "topP", "n": "candidateCount", "seed": "seed"}
_SAMPLING |= {"presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
_SKIP_SIGNATURE = "skip_thought_signature_validator"
_UNSIGNED_MODELS = ("gemini-1", "gemini-2", "gemma", "learnlm")  # no signature check


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _fallback_id(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "chatcmpl-gemini-" + _hex(canonical)[:24]


def _call_id(response_id: str, candidate: int, position: int, name: str) -> str:
    """The stable id of a candidate's ``position``-th function call."""
    return "call_" + _hex(f"{response_id}:{candidate}:{position}:{name}")[:24]


def _bad(message: str) -> ProviderError:
    return openai_error(400, message, "invalid_request_error")


@functools.cache
def _snake(key: str) -> str:
    return re.sub("([A-Z])", r"_\1", key).lower()


def _get(obj: Any, key: str) -> Any:
    """A field by its camelCase or snake_case name (the REST API accepts both)."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    return value if value is not None else obj.get(_snake(key))


def _finish_reason(reason: Any, has_calls: bool) -> str | None:
    """Map a ``finishReason``; unknown ones (``OTHER``, ``LANGUAGE``...) map to ``stop``."""
    if not isinstance(reason, str) or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    return "tool_calls" if reason == "STOP" and has_calls else _FINISH.get(reason, "stop")


def _candidates(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """``(index, candidate)`` pairs; a prompt blocked by ``promptFeedback.blockReason`` (no
    candidates) becomes one empty ``SAFETY`` candidate."""
    candidates = body.get("candidates")
    if not candidates and _get(body.get("promptFeedback"), "blockReason"):
        candidates = [{"index": 0, "finishReason": "SAFETY"}]
    pairs = enumerate(candidates if isinstance(candidates, list) else [])
    return [(c.get("index", i), c) for i, c in pairs if isinstance(c, dict)]


def _parts(
    content: Any, response_id: str, candidate: int, first_call: int
) -> tuple[str, str, list[dict[str, Any]]]:
    """A candidate's ``content`` as (text, reasoning text, OpenAI tool calls)."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    parts = _get(content, "parts")
    for part in parts if isinstance(parts, list) else []:
        call = _get(part, "functionCall")
        if isinstance(call, dict):
            name = str(call.get("name") or "")
            call_id = _call_id(response_id, candidate, first_call + len(calls), name)
            function = {"name": name, "arguments": _compact(call.get("args") or {})}
            calls.append({"id": call_id, "type": "function", "function": function})
            if isinstance(signature := _get(part, "thoughtSignature"), str):
                calls[-1]["extra_content"] = {"google": {"thought_signature": signature}}
        elif isinstance(_get(part, "text"), str):
            (reasoning if part.get("thought") is True else text).append(part["text"])
    return "".join(text), "".join(reasoning), calls


@dataclass
class GeminiUsage(StreamUsage):
    """:class:`StreamUsage` from ``usageMetadata``: completion tokens include
    ``thoughtsTokenCount``, also reported as ``completion_tokens_details.reasoning_tokens``."""

    reasoning_tokens: int | None = None

    def merge(self, meta: Any) -> None:
        """Take one ``usageMetadata`` (a running total: the last one wins)."""
        if not isinstance(meta, dict):
            return
        count = {k: v for k, v in meta.items() if isinstance(v, int)}
        self.prompt_tokens = count.get("promptTokenCount", self.prompt_tokens)
        self.reasoning_tokens = count.get("thoughtsTokenCount", self.reasoning_tokens)
        self.cached_tokens = count.get("cachedContentTokenCount", self.cached_tokens)
        if "candidatesTokenCount" in count or "thoughtsTokenCount" in count:
            output = count.get("candidatesTokenCount", 0)
            self.completion_tokens = output + (self.reasoning_tokens or 0)

    def as_openai(self) -> dict[str, Any] | None:
        """The OpenAI ``usage`` object, or ``None`` when nothing was reported."""
        usage = super().as_openai()
        if usage is not None and self.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


def _convert_error(status: int, body: Any) -> ProviderError:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            body = {"error": {"message": body.strip()[:500]}}
    if isinstance(body, list) and body:  # streamGenerateContent without alt=sse: an array
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"message": str(error or (_compact(body) if body else ""))[:500]}
    message = str(error.get("message") or f"Gemini returned HTTP {status}")
    grpc = error.get("status")
    if grpc not in _ERRORS:
        grpc = _HTTP.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    kind, code = _ERRORS[grpc]
    details = error.get("details")
    reasons = [d.get("reason") for d in details if isinstance(d, dict)] if details else []
    if "API_KEY_INVALID" in reasons:  # a bad key is a 400 INVALID_ARGUMENT on Gemini
        kind, code = _ERRORS["UNAUTHENTICATED"]
    elif code == "rate_limit_exceeded" and "quota" in message.lower():
        code = "insufficient_quota"
    return openai_error(status, message, kind, code)


class GeminiStreamConverter:
    """Converts one ``streamGenerateContent?alt=sse`` stream, event by event, into
    ``chat.completion.chunk`` objects (see :class:`~.base.StreamConverter`)."""

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        self._usage = GeminiUsage()
        self.usage: StreamUsage = self._usage  # the protocol's attribute type
        self.error: ProviderError | None = None
        self._model, self._created, self._include_usage = model, created, include_usage
        self._id: str | None = None
        self._calls: dict[int, int] = {}  # candidate index -> function calls so far

    def _chunk(self, choices: list[dict[str, Any]], **usage: Any) -> dict[str, Any]:
        chunk: dict[str, Any] = {"id": self._id or _fallback_id(None)}
        chunk |= {"object": "chat.completion.chunk", "created": self._created}
        chunk |= {"model": self._model, "choices": choices}
        return chunk | ({"usage": None} | usage if self._include_usage else {})

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one ``GenerateContentResponse`` payload (or ``{"error": {...}}``)."""
        if self.error is not None or not isinstance(payload, dict | list):
            return []
        if isinstance(payload, list):  # the JSON-array form (no alt=sse)
            return [chunk for item in payload for chunk in self.feed(event, item)]
        if "error" in payload:
            code = _get(payload["error"], "code")
            self.error = _convert_error(code if isinstance(code, int) else 500, payload)
            return [self.error.body]
        if self._id is None:
            rid = payload.get("responseId")
            self._id = rid if isinstance(rid, str) and rid else _fallback_id(payload)
            self._model = payload.get("modelVersion") or self._model
        self._usage.merge(payload.get("usageMetadata"))
        chunks = []
        for index, candidate in _candidates(payload):
            seen = self._calls.get(index)
            text, reasoning, calls = _parts(candidate.get("content"), self._id, index, seen or 0)
            self._calls[index] = (seen or 0) + len(calls)
            finish = _finish_reason(candidate.get("finishReason"), self._calls[index] > 0)
            delta: dict[str, Any] = {"content": text} if text else {}
            if seen is None:  # the candidate's first chunk
                delta = {"role": "assistant", "content": text or (None if calls else "")}
            if reasoning:
                delta["reasoning_content"] = reasoning
            if calls:
                first = seen or 0
                delta["tool_calls"] = [{"index": first + n, **c} for n, c in enumerate(calls)]
            if delta or finish:
                choice = {"index": index, "delta": delta, "logprobs": None}
                chunks.append(self._chunk([choice | {"finish_reason": finish}]))
        return chunks

    def close(self) -> list[dict[str, Any]]:
        """The usage chunk (``"choices": []``) when asked for; nothing after an error."""
        if self.error is not None or not self._include_usage:
            return []
        return [self._chunk([], usage=self.usage.as_openai())]


def _text_of(content: Any, where: str) -> str:
    """A ``content`` that may only hold text (a string or text/refusal parts)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise _bad(f"{where}: content must be a string or a list of parts")
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
            raise _bad(f"{where}: only text content is supported here")
        texts.append(str(part.get("text", part.get("refusal")) or ""))
    return "".join(texts)


def _user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """User ``content`` (a string, or text and image_url parts) as Gemini parts."""
    if not isinstance(content, list):
        return [{"text": text}] if (text := _text_of(content, where)) else []
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        image = part.get("image_url") if isinstance(part, dict) else None
        url = str(image.get("url") if isinstance(image, dict) else image or "")
        if kind == "text":
            parts.append({"text": str(part.get("text") or "")})
        elif kind == "image_url" and url.startswith("data:"):
            header, comma, data = url[5:].partition(",")
            mime, *params = header.split(";")
            if not comma or "base64" not in params:
                raise _bad(f"{where}: image data URLs must be base64-encoded")
            parts.append({"inlineData": {"mimeType": mime or "image/jpeg", "data": data}})
        elif kind == "image_url" and url.startswith(("http://", "https://")):
            ext = re.split(r"[?#]", url)[0].rsplit("/", 1)[-1].rpartition(".")[2].lower()
            parts.append({"fileData": {"mimeType": _MIME.get(ext, "image/jpeg"), "fileUri": url}})
        else:
            raise _bad(f"{where}: unsupported content part {kind!r} (text and image_url only)")
    return parts


def _assistant_parts(
    message: dict[str, Any], where: str, names: dict[str, str], sign: bool
) -> list[dict[str, Any]]:
    """Assistant text and ``tool_calls`` as ``text`` and ``functionCall`` parts; records each
    call's name under its id in ``names``."""
    text = _text_of(message.get("content"), where)
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    calls = message.get("tool_calls")
    for position, call in enumerate(calls if isinstance(calls, list) else []):
        function = _get(call, "function")
        name = str(_get(function, "name") or "")
        try:
            args = json.loads(_get(function, "arguments") or "{}")
        except (TypeError, ValueError):
            args = None
        if not name or not isinstance(args, dict):
            raise _bad(f"{where}.tool_calls[{position}] ({name}): arguments must be a JSON object")
        names[str(call.get("id"))] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        signature = _get(_get(call.get("extra_content"), "google"), "thought_signature")
        if signature or (sign and position == 0):  # Gemini 3 checks the first call's
            part["thoughtSignature"] = signature or _SKIP_SIGNATURE
        parts.append(part)
    return parts


def _tool_response(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"content": text}


def _schema_field(prefix: str, schema: dict[str, Any]) -> str:
    """``parameters``/``responseSchema``, or the JSON Schema field when ``schema`` needs it."""
    if _JSON_SCHEMA_ONLY.search(_compact(schema)):
        return prefix.removesuffix("Schema") + "JsonSchema"
    return prefix


def _generation_config(request: dict[str, Any]) -> dict[str, Any]:
    config = {key: request[name] for name, key in _SAMPLING.items() if name in request}
    config = {key: value for key, value in config.items() if value is not None}
    max_tokens = request.get("max_completion_tokens")
    if (max_tokens := request.get("max_tokens") if max_tokens is None else max_tokens) is not None:
        config["maxOutputTokens"] = max_tokens
    if stop := request.get("stop"):
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = request.get("response_format")
    kind = _get(response_format, "type")
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    schema = _get(_get(response_format, "json_schema"), "schema")
    if kind == "json_schema" and isinstance(schema, dict):
        config[_schema_field("responseSchema", schema)] = schema
    elif response_format is not None and kind not in ("text", "json_object"):
        raise _bad(f"response_format type {kind!r} is not supported")
    return config


def _tools(request: dict[str, Any]) -> dict[str, Any]:
    """``tools`` and ``toolConfig`` from the OpenAI ``tools`` and ``tool_choice``."""
    body: dict[str, Any] = {}
    declarations = []
    for i, tool in enumerate(request.get("tools") or []):
        function = _get(tool, "function")
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            raise _bad(f"tools[{i}]: only function tools are supported")
        declaration = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        params = function.get("parameters")
        if isinstance(params, dict) and params.get("properties"):  # Gemini rejects empty ones
            declaration[_schema_field("parameters", params)] = params
        declarations.append(declaration)
    if declarations:
        body["tools"] = [{"functionDeclarations": declarations}]
    choice = request.get("tool_choice")
    name = _get(_get(choice, "function"), "name")
    config = {"mode": "ANY", "allowedFunctionNames": [name]} if isinstance(name, str) else None
    if isinstance(choice, str) and choice in ("auto", "none", "required"):
        config = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    if config is None and choice is not None:
        raise _bad(f"tool_choice {choice!r} is not supported")
    return body | ({"toolConfig": {"functionCallingConfig": config}} if config else {})


def _openai_part(part: dict[str, Any]) -> dict[str, Any] | None:
    """A ``text``, ``inlineData`` or ``fileData`` part as an OpenAI content part."""
    inline, file = _get(part, "inlineData"), _get(part, "fileData")
    if isinstance(_get(part, "text"), str):
        return {"type": "text", "text": _get(part, "text")}
    if isinstance(inline, dict):
        url = f"data:{_get(inline, 'mimeType')};base64,{inline.get('data', '')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if isinstance(file, dict):
        return {"type": "image_url", "image_url": {"url": _get(file, "fileUri")}}
    return None


def _normalize_contents(contents: Any) -> list[dict[str, Any]]:
    """``contents`` as OpenAI messages: a content's ``functionResponse`` parts become tool
    messages (before its other parts), ids paired by function name in call order."""
    messages: list[dict[str, Any]] = []
    pending: dict[str, list[str]] = {}  # function name -> ids of calls not answered yet
    for c_index, content in enumerate(contents if isinstance(contents, list) else []):
        parts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        reasoning: list[str] = []
        raw_parts = _get(content, "parts")
        for p_index, part in enumerate(raw_parts if isinstance(raw_parts, list) else []):
            if not isinstance(part, dict):
                continue
            call, answer = _get(part, "functionCall"), _get(part, "functionResponse")
            if isinstance(call, dict) or isinstance(answer, dict):
                item = call if isinstance(call, dict) else answer
                name = str(item.get("name") or "")
                queue = pending.setdefault(name, [])
                new_id = item.get("id") or _call_id("request", c_index, p_index, name)
            if isinstance(call, dict):
                queue.append(new_id)
                function = {"name": name, "arguments": _compact(call.get("args") or {})}
                calls.append({"id": new_id, "type": "function", "function": function})
            elif isinstance(answer, dict):
                call_id = answer.get("id") or (queue.pop(0) if queue else new_id)
                text = _compact(answer.get("response"))
                messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
            elif part.get("thought") is True and isinstance(part.get("text"), str):
                reasoning.append(part["text"])
            elif (openai_part := _openai_part(part)) is not None:
                parts.append(openai_part)
        texts = [p["text"] for p in parts if p["type"] == "text"]
        if _get(content, "role") == "model" and (parts or calls or reasoning):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
            if reasoning:
                message["reasoning_content"] = "".join(reasoning)
            if calls:
                message |= {"content": message["content"] or None, "tool_calls": calls}
            messages.append(message)
        elif parts:
            one_text = len(parts) == 1 and len(texts) == 1
            messages.append({"role": "user", "content": texts[0] if one_text else parts})
    return messages


def _normalize_config(body: dict[str, Any]) -> dict[str, Any]:
    """``generationConfig``, ``tools`` and ``toolConfig`` as OpenAI request fields."""
    config = _get(body, "generationConfig")
    fields = {**_SAMPLING, "max_tokens": "maxOutputTokens", "stop": "stopSequences"}
    out = {name: _get(config, key) for name, key in fields.items()}
    out = {name: value for name, value in out.items() if value is not None}
    schema = _get(config, "responseJsonSchema") or _get(config, "responseSchema")
    if schema is not None:
        json_schema = {"name": "response", "schema": schema}
        out["response_format"] = {"type": "json_schema", "json_schema": json_schema}
    elif _get(config, "responseMimeType") == "application/json":
        out["response_format"] = {"type": "json_object"}
    tools = []
    for tool in _get(body, "tools") or []:
        for decl in _get(tool, "functionDeclarations") or []:
            function = {k: decl[k] for k in ("name", "description") if k in decl}
            params = _get(decl, "parameters") or _get(decl, "parametersJsonSchema")
            if params is not None:
                function["parameters"] = params
            tools.append({"type": "function", "function": function})
    if tools:
        out["tools"] = tools
    calling = _get(_get(body, "toolConfig"), "functionCallingConfig")
    mode, allowed = _get(calling, "mode"), _get(calling, "allowedFunctionNames")
    if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1:
        out["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
    elif mode in ("AUTO", "NONE", "ANY"):
        out["tool_choice"] = {"AUTO": "auto", "NONE": "none", "ANY": "required"}[mode]
    return out


class GeminiAdapter:
    """:class:`~.base.ProviderAdapter` for the Gemini API (``generativelanguage`` v1beta)."""

    name = "gemini"

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """OpenAI chat request -> ``generateContent`` body, posted to
        ``/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse`` when
        ``stream``). The body never holds ``model`` or ``stream``."""
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            raise _bad("'messages' must be a list of messages")
        model = model.removeprefix("models/")
        system: list[dict[str, Any]] = []
        contents: list[dict[str, Any]] = []
        names: dict[str, str] = {}  # tool_call_id -> function name
        for i, message in enumerate(request["messages"]):
            where, role = f"messages[{i}]", _get(message, "role")
            if role in ("system", "developer"):
                system += [{"text": t}] if (t := _text_of(message.get("content"), where)) else []
                continue
            if role == "user":
                role, parts = "user", _user_parts(message.get("content"), where)
            elif role == "assistant":
                sign = not model.startswith(_UNSIGNED_MODELS)
                role, parts = "model", _assistant_parts(message, where, names, sign)
            elif role == "tool":
                call_id = message.get("tool_call_id")
                if not (name := names.get(str(call_id)) or message.get("name")):
                    raise _bad(f"{where}: no earlier assistant tool call has id {call_id!r}")
                answer = _tool_response(_text_of(message.get("content"), where))
                role, parts = "user", [{"functionResponse": {"name": name, "response": answer}}]
            else:
                raise _bad(f"{where}: unsupported role {role!r}")
            if parts and contents and contents[-1]["role"] == role:
                contents[-1]["parts"].extend(parts)
            elif parts:
                contents.append({"role": role, "parts": parts})
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        body |= _tools(request)
        if config := _generation_config(request):
            body["generationConfig"] = config
        stream = request.get("stream") is True
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return ProviderRequest(f"/v1beta/models/{model}:{action}", body, stream)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """``GenerateContentResponse`` -> ``chat.completion``, one choice per candidate."""
        if not isinstance(body, dict) or "error" in body:
            raise self.convert_error(502, body)
        rid = body.get("responseId")
        rid = rid if isinstance(rid, str) and rid else _fallback_id(body)
        choices = []
        for index, candidate in _candidates(body):
            text, reasoning, calls = _parts(candidate.get("content"), rid, index, 0)
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if reasoning:
                message["reasoning_content"] = reasoning
            message |= {"tool_calls": calls} if calls else {"content": text}
            finish = _finish_reason(candidate.get("finishReason"), bool(calls))
            choices.append({"index": index, "message": message, "finish_reason": finish})
        usage = GeminiUsage()
        usage.merge(body.get("usageMetadata"))
        result = {"id": rid, "object": "chat.completion", "created": created}
        result |= {"model": body.get("modelVersion") or model, "choices": choices}
        if (openai_usage := usage.as_openai()) is not None:
            result["usage"] = openai_usage
        return result

    def stream_converter(
        self, *, model: str, created: int, include_usage: bool
    ) -> GeminiStreamConverter:
        """A converter for one ``streamGenerateContent?alt=sse`` stream."""
        return GeminiStreamConverter(model=model, created=created, include_usage=include_usage)

    def convert_error(self, status: int, body: Any) -> ProviderError:
        """Gemini ``{"error": {code, message, status, details}}`` (or text, cut at 500
        characters) -> OpenAI shape with the same HTTP status; type/code from ``status``."""
        return _convert_error(status, body)

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """Native ``generateContent`` body -> OpenAI-shaped request, without ``model`` and
        ``stream`` (both are in the URL; the caller sets them)."""
        messages: list[dict[str, Any]] = []
        system = _get(_get(body, "systemInstruction"), "parts")
        texts = [_get(p, "text") for p in system] if isinstance(system, list) else []
        if text := "\n".join(t for t in texts if isinstance(t, str)):
            messages.append({"role": "system", "content": text})
        messages += _normalize_contents(_get(body, "contents"))
        return {"messages": messages, **_normalize_config(body if isinstance(body, dict) else {})}
