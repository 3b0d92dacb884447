"""OpenAI Chat Completions requests -> Gemini ``generateContent`` requests.

The Gemini API (https://ai.google.dev/api/generate-content) takes ``contents`` (role
``user``/``model``, ``parts``), ``systemInstruction``, ``tools`` (``functionDeclarations``),
``toolConfig`` and ``generationConfig``; the model and streaming are in the URL. Gemini 3 wants
each call's ``thoughtSignature`` back: requests return it from
``extra_content.google.thought_signature``, or the documented placeholder.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from traceforge_proxy.providers.base import ProviderRequest, compact_json, invalid_request
from traceforge_proxy.providers.params import reject_unsupported
from traceforge_proxy.providers.reasoning import GEMINI_LEVELS, THINKING_BUDGETS, reasoning_effort

_MIME = {"png": "image/png", "gif": "image/gif", "webp": "image/webp", "heic": "image/heic"}
#: JSON Schema features Gemini's ``Schema`` (an OpenAPI 3.0 subset) lacks, e.g. in OpenAI strict
#: schemas: such schemas go in ``parametersJsonSchema`` / ``responseJsonSchema`` instead.
_JSON_SCHEMA_ONLY = re.compile(
    r'"(additionalProperties|patternProperties|\$ref|\$defs|definitions|\$schema|const|oneOf|allOf'
    r'|not|if)":|"type":\['
)
#: OpenAI request field -> ``generationConfig`` field.
SAMPLING = {"temperature": "temperature", "top_p": "topP", "n": "candidateCount", "seed": "seed"}
SAMPLING |= {"presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
_SKIP_SIGNATURE = "skip_thought_signature_validator"
_UNSIGNED_MODELS = ("gemini-1", "gemini-2", "gemma", "learnlm")  # no signature check


@functools.cache
def _snake(key: str) -> str:
    return re.sub("([A-Z])", r"_\1", key).lower()


def field(obj: Any, key: str) -> Any:
    """A field by its camelCase or snake_case name (the REST API accepts both); ``None``
    when ``obj`` is not an object or has neither."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    return value if value is not None else obj.get(_snake(key))


def _text_of(content: Any, where: str) -> str:
    """A ``content`` that may only hold text (a string or text/refusal parts)."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise invalid_request(f"{where}: content must be a string or a list of parts")
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
            raise invalid_request(f"{where}: only text content is supported here")
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
                raise invalid_request(f"{where}: image data URLs must be base64-encoded")
            parts.append({"inlineData": {"mimeType": mime or "image/jpeg", "data": data}})
        elif kind == "image_url" and url.startswith(("http://", "https://")):
            ext = re.split(r"[?#]", url)[0].rsplit("/", 1)[-1].rpartition(".")[2].lower()
            parts.append({"fileData": {"mimeType": _MIME.get(ext, "image/jpeg"), "fileUri": url}})
        else:
            raise invalid_request(
                f"{where}: unsupported content part {kind!r} (text and image_url only)"
            )
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
        function = field(call, "function")
        name = str(field(function, "name") or "")
        try:
            args = json.loads(field(function, "arguments") or "{}")
        except (TypeError, ValueError):
            args = None
        if not name or not isinstance(args, dict):
            raise invalid_request(
                f"{where}.tool_calls[{position}] ({name}): arguments must be a JSON object"
            )
        names[str(call.get("id"))] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        signature = field(field(call.get("extra_content"), "google"), "thought_signature")
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
    if _JSON_SCHEMA_ONLY.search(compact_json(schema)):
        return prefix.removesuffix("Schema") + "JsonSchema"
    return prefix


def _generation_config(request: dict[str, Any], model: str) -> dict[str, Any]:
    config = {key: request[name] for name, key in SAMPLING.items() if name in request}
    config = {key: value for key, value in config.items() if value is not None}
    max_tokens = request.get("max_completion_tokens")
    if (max_tokens := request.get("max_tokens") if max_tokens is None else max_tokens) is not None:
        config["maxOutputTokens"] = max_tokens
    if stop := request.get("stop"):
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = request.get("response_format")
    kind = field(response_format, "type")
    if kind in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    schema = field(field(response_format, "json_schema"), "schema")
    if kind == "json_schema" and isinstance(schema, dict):
        config[_schema_field("responseSchema", schema)] = schema
    elif response_format is not None and kind not in ("text", "json_object"):
        raise invalid_request(f"response_format type {kind!r} is not supported")
    if request.get("logprobs") is True:
        config["responseLogprobs"] = True
        if request.get("top_logprobs") is not None:
            config["logprobs"] = request["top_logprobs"]
    if thinking := _thinking_config(request, model):
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(request: dict[str, Any], model: str) -> dict[str, Any] | None:
    """``reasoning_effort`` -> ``thinkingConfig``: ``thinkingLevel`` for Gemini 3
    (:data:`~.reasoning.GEMINI_LEVELS`), else ``thinkingBudget`` (``none``: 0, thinking off;
    else :data:`~.reasoning.THINKING_BUDGETS`); ``includeThoughts`` so that the thought
    summaries reach ``reasoning_content``."""
    effort = reasoning_effort(request)
    if effort is None:
        return None
    if model.startswith("gemini-3"):
        return {"thinkingLevel": GEMINI_LEVELS[effort], "includeThoughts": True}
    if effort == "none":
        return {"thinkingBudget": 0}
    return {"thinkingBudget": THINKING_BUDGETS[effort], "includeThoughts": True}


def _tools(request: dict[str, Any]) -> dict[str, Any]:
    """``tools`` and ``toolConfig`` from the OpenAI ``tools`` and ``tool_choice``."""
    body: dict[str, Any] = {}
    declarations = []
    for i, tool in enumerate(request.get("tools") or []):
        function = field(tool, "function")
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            raise invalid_request(f"tools[{i}]: only function tools are supported")
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
    name = field(field(choice, "function"), "name")
    config = {"mode": "ANY", "allowedFunctionNames": [name]} if isinstance(name, str) else None
    if isinstance(choice, str) and choice in ("auto", "none", "required"):
        config = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    if config is None and choice is not None:
        raise invalid_request(f"tool_choice {choice!r} is not supported")
    return body | ({"toolConfig": {"functionCallingConfig": config}} if config else {})


def build_request(request: dict[str, Any], model: str) -> ProviderRequest:
    """OpenAI chat request -> ``generateContent`` body, posted to
    ``/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse`` when
    ``stream``). The body never holds ``model`` or ``stream``.

    ``reasoning_effort`` becomes ``generationConfig.thinkingConfig``, ``logprobs`` /
    ``top_logprobs`` ``responseLogprobs`` / ``logprobs``, ``n`` ``candidateCount``.

    Raises:
        ProviderError: (400) no ``messages`` list, a parameter Gemini cannot take
            (``code: unsupported_parameter``, see :mod:`~traceforge_proxy.providers.params`),
            unsupported roles, content parts, tools, ``tool_choice`` or ``response_format``,
            tool results without an earlier call, tool call arguments that are not a JSON
            object.
    """
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        raise invalid_request("'messages' must be a list of messages")
    reject_unsupported(request, "gemini")
    model = model.removeprefix("models/")
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id -> function name
    for i, message in enumerate(request["messages"]):
        where, role = f"messages[{i}]", field(message, "role")
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
                raise invalid_request(f"{where}: no earlier assistant tool call has id {call_id!r}")
            answer = _tool_response(_text_of(message.get("content"), where))
            role, parts = "user", [{"functionResponse": {"name": name, "response": answer}}]
        else:
            raise invalid_request(f"{where}: unsupported role {role!r}")
        if parts and contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        elif parts:
            contents.append({"role": role, "parts": parts})
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    body |= _tools(request)
    if config := _generation_config(request, model):
        body["generationConfig"] = config
    stream = request.get("stream") is True
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return ProviderRequest(f"/v1beta/models/{model}:{action}", body, stream)
