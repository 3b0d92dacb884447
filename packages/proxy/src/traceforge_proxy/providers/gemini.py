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

from typing import Any

from traceforge_proxy.providers.base import ProviderRequest, compact_json
from traceforge_proxy.providers.gemini_request import SAMPLING, build_request, field
from traceforge_proxy.providers.gemini_stream import (
    GeminiStreamConverter,
    GeminiUsage,
    candidate_parts,
    candidates,
    convert_error,
    fallback_id,
    finish_reason,
    stable_call_id,
)

__all__ = ["GeminiAdapter", "GeminiStreamConverter", "GeminiUsage"]


def _openai_part(part: dict[str, Any]) -> dict[str, Any] | None:
    """A ``text``, ``inlineData`` or ``fileData`` part as an OpenAI content part."""
    inline, file = field(part, "inlineData"), field(part, "fileData")
    if isinstance(field(part, "text"), str):
        return {"type": "text", "text": field(part, "text")}
    if isinstance(inline, dict):
        url = f"data:{field(inline, 'mimeType')};base64,{inline.get('data', '')}"
        return {"type": "image_url", "image_url": {"url": url}}
    if isinstance(file, dict):
        return {"type": "image_url", "image_url": {"url": field(file, "fileUri")}}
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
        raw_parts = field(content, "parts")
        for p_index, part in enumerate(raw_parts if isinstance(raw_parts, list) else []):
            if not isinstance(part, dict):
                continue
            call, answer = field(part, "functionCall"), field(part, "functionResponse")
            if isinstance(call, dict) or isinstance(answer, dict):
                item = call if isinstance(call, dict) else answer
                name = str(item.get("name") or "")
                queue = pending.setdefault(name, [])
                new_id = item.get("id") or stable_call_id("request", c_index, p_index, name)
            if isinstance(call, dict):
                queue.append(new_id)
                function = {"name": name, "arguments": compact_json(call.get("args") or {})}
                calls.append({"id": new_id, "type": "function", "function": function})
            elif isinstance(answer, dict):
                call_id = answer.get("id") or (queue.pop(0) if queue else new_id)
                text = compact_json(answer.get("response"))
                messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
            elif part.get("thought") is True and isinstance(part.get("text"), str):
                reasoning.append(part["text"])
            elif (openai_part := _openai_part(part)) is not None:
                parts.append(openai_part)
        texts = [p["text"] for p in parts if p["type"] == "text"]
        if field(content, "role") == "model" and (parts or calls or reasoning):
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
    config = field(body, "generationConfig")
    fields = {**SAMPLING, "max_tokens": "maxOutputTokens", "stop": "stopSequences"}
    out = {name: field(config, key) for name, key in fields.items()}
    out = {name: value for name, value in out.items() if value is not None}
    schema = field(config, "responseJsonSchema") or field(config, "responseSchema")
    if schema is not None:
        json_schema = {"name": "response", "schema": schema}
        out["response_format"] = {"type": "json_schema", "json_schema": json_schema}
    elif field(config, "responseMimeType") == "application/json":
        out["response_format"] = {"type": "json_object"}
    tools = []
    for tool in field(body, "tools") or []:
        for decl in field(tool, "functionDeclarations") or []:
            function = {k: decl[k] for k in ("name", "description") if k in decl}
            params = field(decl, "parameters") or field(decl, "parametersJsonSchema")
            if params is not None:
                function["parameters"] = params
            tools.append({"type": "function", "function": function})
    if tools:
        out["tools"] = tools
    calling = field(field(body, "toolConfig"), "functionCallingConfig")
    mode, allowed = field(calling, "mode"), field(calling, "allowedFunctionNames")
    if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1:
        out["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
    elif mode in ("AUTO", "NONE", "ANY"):
        out["tool_choice"] = {"AUTO": "auto", "NONE": "none", "ANY": "required"}[mode]
    return out


def _token_logprob(candidate: Any) -> dict[str, Any]:
    token = str(field(candidate, "token") or "")
    logprob = field(candidate, "logProbability")
    logprob = logprob if isinstance(logprob, int | float) else None
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _logprobs(result: Any) -> dict[str, Any] | None:
    """Gemini ``logprobsResult`` (``chosenCandidates`` and ``topCandidates[].candidates``,
    each ``{token, tokenId, logProbability}``; https://ai.google.dev/api/generate-content#
    LogprobsResult) -> OpenAI choice ``logprobs`` (``{"content": [{token, logprob, bytes,
    top_logprobs}], "refusal": null}``); ``None`` when the answer has none."""
    chosen = field(result, "chosenCandidates")
    if not isinstance(chosen, list):
        return None
    tops = field(result, "topCandidates")
    tops = tops if isinstance(tops, list) else []
    content = []
    for position, candidate in enumerate(chosen):
        entry = _token_logprob(candidate)
        alternatives = field(tops[position], "candidates") if position < len(tops) else None
        entry["top_logprobs"] = [
            _token_logprob(alternative)
            for alternative in (alternatives if isinstance(alternatives, list) else [])
        ]
        content.append(entry)
    return {"content": content, "refusal": None}


class GeminiAdapter:
    """:class:`~.base.ProviderAdapter` for the Gemini API (``generativelanguage`` v1beta)."""

    name = "gemini"

    def build_request(self, request: dict[str, Any], *, model: str) -> ProviderRequest:
        """OpenAI chat request -> ``generateContent`` body, posted to
        ``/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse`` when
        ``stream``). The body never holds ``model`` or ``stream``."""
        return build_request(request, model)

    def convert_response(self, body: Any, *, model: str, created: int) -> dict[str, Any]:
        """``GenerateContentResponse`` -> ``chat.completion``, one choice per candidate (with
        ``logprobs`` when the request asked for ``responseLogprobs``)."""
        if not isinstance(body, dict) or "error" in body:
            raise self.convert_error(502, body)
        rid = body.get("responseId")
        rid = rid if isinstance(rid, str) and rid else fallback_id(body)
        choices = []
        for index, candidate in candidates(body):
            text, reasoning, calls = candidate_parts(candidate.get("content"), rid, index, 0)
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if reasoning:
                message["reasoning_content"] = reasoning
            message |= {"tool_calls": calls} if calls else {"content": text}
            finish = finish_reason(candidate.get("finishReason"), bool(calls))
            choice = {"index": index, "message": message, "finish_reason": finish}
            if (logprobs := _logprobs(field(candidate, "logprobsResult"))) is not None:
                choice["logprobs"] = logprobs
            choices.append(choice)
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

    #: The provider's HTTP error (status, decoded body or text) -> OpenAI's shape.
    convert_error = staticmethod(convert_error)

    def normalize_request(self, body: Any) -> dict[str, Any]:
        """Native ``generateContent`` body -> OpenAI-shaped request, without ``model`` and
        ``stream`` (both are in the URL; the caller sets them)."""
        messages: list[dict[str, Any]] = []
        system = field(field(body, "systemInstruction"), "parts")
        texts = [field(p, "text") for p in system] if isinstance(system, list) else []
        if text := "\n".join(t for t in texts if isinstance(t, str)):
            messages.append({"role": "system", "content": text})
        messages += _normalize_contents(field(body, "contents"))
        return {"messages": messages, **_normalize_config(body if isinstance(body, dict) else {})}
