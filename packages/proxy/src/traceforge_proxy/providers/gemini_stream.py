"""Gemini answers -> OpenAI: candidates, usage, finish reasons, errors and the stream
converter.

A ``GenerateContentResponse`` holds ``candidates``, ``usageMetadata``, ``modelVersion`` and
``responseId``; ``streamGenerateContent?alt=sse`` sends one whole response per event, each with
the next piece and a running-total ``usageMetadata``. Gemini has no tool-call ids: ids are
SHA-256 of response id, candidate, call position and name, so the same answer always gets the
same ids; a call's ``thoughtSignature`` goes to ``extra_content.google.thought_signature`` (as
Google's OpenAI-compatible endpoint does).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from traceforge_proxy.providers.base import (
    ChunkStream,
    ProviderError,
    StreamUsage,
    compact_json,
    openai_error,
)
from traceforge_proxy.providers.chunks import ChunkBuilder
from traceforge_proxy.providers.gemini_request import field
from traceforge_shared.usage import usage_from_gemini

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


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fallback_id(body: Any) -> str:
    """``chatcmpl-gemini-`` + 24 hex digits of the SHA-256 of ``body`` as canonical JSON: the
    completion id when the answer has no ``responseId``."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return "chatcmpl-gemini-" + _hex(canonical)[:24]


def stable_call_id(response_id: str, candidate: int, position: int, name: str) -> str:
    """The stable id of a candidate's ``position``-th function call."""
    return "call_" + _hex(f"{response_id}:{candidate}:{position}:{name}")[:24]


def finish_reason(reason: Any, has_calls: bool) -> str | None:
    """Map a ``finishReason``; unknown ones (``OTHER``, ``LANGUAGE``...) map to ``stop``."""
    if not isinstance(reason, str) or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    return "tool_calls" if reason == "STOP" and has_calls else _FINISH.get(reason, "stop")


def candidates(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """``(index, candidate)`` pairs; a prompt blocked by ``promptFeedback.blockReason`` (no
    candidates) becomes one empty ``SAFETY`` candidate."""
    candidates = body.get("candidates")
    if not candidates and field(body.get("promptFeedback"), "blockReason"):
        candidates = [{"index": 0, "finishReason": "SAFETY"}]
    pairs = enumerate(candidates if isinstance(candidates, list) else [])
    return [(c.get("index", i), c) for i, c in pairs if isinstance(c, dict)]


def candidate_parts(
    content: Any, response_id: str, candidate: int, first_call: int
) -> tuple[str, str, list[dict[str, Any]]]:
    """A candidate's ``content`` as (text, reasoning text, OpenAI tool calls)."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    parts = field(content, "parts")
    for part in parts if isinstance(parts, list) else []:
        call = field(part, "functionCall")
        if isinstance(call, dict):
            name = str(call.get("name") or "")
            call_id = stable_call_id(response_id, candidate, first_call + len(calls), name)
            function = {"name": name, "arguments": compact_json(call.get("args") or {})}
            calls.append({"id": call_id, "type": "function", "function": function})
            if isinstance(signature := field(part, "thoughtSignature"), str):
                calls[-1]["extra_content"] = {"google": {"thought_signature": signature}}
        elif isinstance(field(part, "text"), str):
            (reasoning if part.get("thought") is True else text).append(part["text"])
    return "".join(text), "".join(reasoning), calls


@dataclass
class GeminiUsage(StreamUsage):
    """:class:`StreamUsage` from ``usageMetadata`` (read by
    :func:`traceforge_shared.usage.usage_from_gemini`): completion tokens include
    ``thoughtsTokenCount``, also reported as ``completion_tokens_details.reasoning_tokens``."""

    def merge(self, meta: Any) -> None:
        """Take one ``usageMetadata`` (a running total: the last one wins)."""
        usage = usage_from_gemini(meta)
        if usage is None:
            return
        reported = StreamUsage.of(usage, details="cachedContentTokenCount" in meta)
        if isinstance(meta, dict) and "thoughtsTokenCount" in meta:
            reported.reasoning_tokens = usage.reasoning_tokens
        self.update_from(reported)


def convert_error(status: int, body: Any) -> ProviderError:
    """Gemini ``{"error": {code, message, status, details}}`` (or text, cut at 500
    characters; or the JSON-array form) -> OpenAI shape with the same HTTP status; type and
    code from the gRPC ``status`` (else from the HTTP status)."""
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
        error = {"message": str(error or (compact_json(body) if body else ""))[:500]}
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


class GeminiStreamConverter(ChunkStream):
    """Converts one ``streamGenerateContent?alt=sse`` stream, event by event, into
    ``chat.completion.chunk`` objects (see :class:`~.base.StreamConverter`)."""

    def __init__(self, *, model: str, created: int, include_usage: bool) -> None:
        self._usage = GeminiUsage()
        chunks = ChunkBuilder(
            id=fallback_id(None), model=model, created=created, include_usage=include_usage
        )
        super().__init__(chunks, self._usage)
        self._started = False
        self._calls: dict[int, int] = {}  # candidate index -> function calls so far

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one ``GenerateContentResponse`` payload (or ``{"error": {...}}``)."""
        if self.error is not None or not isinstance(payload, dict | list):
            return []
        if isinstance(payload, list):  # the JSON-array form (no alt=sse)
            return [chunk for item in payload for chunk in self.feed(event, item)]
        if "error" in payload:
            code = field(payload["error"], "code")
            self.error = convert_error(code if isinstance(code, int) else 500, payload)
            return [self.error.body]
        if not self._started:
            self._started = True
            rid = payload.get("responseId")
            self._chunks.id = rid if isinstance(rid, str) and rid else fallback_id(payload)
            self._chunks.model = payload.get("modelVersion") or self._chunks.model
        self._usage.merge(payload.get("usageMetadata"))
        chunks = []
        for index, candidate in candidates(payload):
            seen = self._calls.get(index)
            rid = self._chunks.id
            text, reasoning, calls = candidate_parts(
                candidate.get("content"), rid, index, seen or 0
            )
            self._calls[index] = (seen or 0) + len(calls)
            finish = finish_reason(candidate.get("finishReason"), self._calls[index] > 0)
            delta: dict[str, Any] = {"content": text} if text else {}
            if seen is None:  # the candidate's first chunk
                delta = {"role": "assistant", "content": text or (None if calls else "")}
            if reasoning:
                delta["reasoning_content"] = reasoning
            if calls:
                first = seen or 0
                delta["tool_calls"] = [{"index": first + n, **c} for n, c in enumerate(calls)]
            if delta or finish:
                chunks.append(self._chunks.delta(delta, finish, index=index))
        return chunks

    def close(self) -> list[dict[str, Any]]:
        """The usage chunk (``"choices": []``) when asked for, even when Gemini reported no
        usage (``"usage": null`` then); nothing after an error."""
        if self.error is not None or not self._chunks.include_usage:
            return []
        return [self._chunks.usage(self.usage.as_openai())]
