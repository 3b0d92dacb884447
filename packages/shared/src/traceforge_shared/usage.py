"""Token usage as each provider reports it, read into the one shared ``Usage``.

Every place that records usage (the proxy's exchange and adapters, ``test run --direct``) reads
it through this module, so the numbers mean the same thing whatever the provider:
``prompt_tokens`` are all input tokens (cache reads and writes included), ``completion_tokens``
all output tokens (reasoning included), ``total_tokens`` their sum unless the provider says
otherwise; the ``cache_*``, ``reasoning_tokens``, ``audio_tokens`` and ``image_tokens`` counts are
parts of those two, never added on top.

Formats read (one function each; :func:`usage_from` picks by name):

- ``openai``: Chat Completions ``usage`` (https://platform.openai.com/docs/api-reference/chat/object):
  ``prompt_tokens_details.cached_tokens``/``audio_tokens`` are part of ``prompt_tokens``
  (``prompt_tokens_details.cache_write_tokens`` is cache writes),
  ``completion_tokens_details.reasoning_tokens``/``audio_tokens`` part of ``completion_tokens``.
  The OpenAI-compatible variants are read by the same function: xAI's ``completion_tokens``
  leave reasoning out (``total_tokens = prompt + completion + reasoning``,
  https://docs.x.ai/docs/guides/reasoning), so reasoning is added to completion; DeepSeek's
  ``prompt_cache_hit_tokens`` (https://api-docs.deepseek.com/api/create-chat-completion) are cache
  reads; a top-level ``cache_creation_input_tokens`` (what the proxy's converted Anthropic
  answers carry, LiteLLM's convention) is cache writes.
- Groq sends its usage in ``x_groq.usage`` of the last stream chunk
  (https://console.groq.com/docs/api-reference#chat-create): :func:`chunk_usage` reads both.
- ``responses``: Responses API ``usage`` (https://platform.openai.com/docs/api-reference/responses/object):
  ``input_tokens`` (``input_tokens_details.cached_tokens``), ``output_tokens``
  (``output_tokens_details.reasoning_tokens``); ``input_tokens_details.cache_write_tokens``
  is cache writes. :func:`responses_usage` writes a ``Usage`` back in that shape.
- ``anthropic``: Messages ``usage`` (https://docs.anthropic.com/en/api/messages): ``input_tokens``
  excludes the cache, so ``prompt_tokens = input_tokens + cache_creation_input_tokens +
  cache_read_input_tokens``.
- ``gemini``: ``usageMetadata`` (https://ai.google.dev/api/generate-content#UsageMetadata):
  ``promptTokenCount`` (+ ``toolUsePromptTokenCount``) is input, ``cachedContentTokenCount`` cache
  reads; ``thoughtsTokenCount`` is billed as output, so completion is ``candidatesTokenCount +
  thoughtsTokenCount``; audio and image input from ``promptTokensDetails`` modalities.
- ``cohere``: v2 chat ``usage`` (https://docs.cohere.com/reference/chat): ``tokens`` (what the
  model processed), else ``billed_units``; ``cached_tokens``.
- ``ollama``: ``prompt_eval_count`` / ``eval_count`` of the final line
  (https://github.com/ollama/ollama/blob/main/docs/api.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traceforge_shared.trace import Usage

__all__ = [
    "USAGE_FORMATS",
    "chunk_usage",
    "openai_usage",
    "responses_usage",
    "usage_from",
    "usage_from_anthropic",
    "usage_from_cohere",
    "usage_from_gemini",
    "usage_from_ollama",
    "usage_from_openai",
    "usage_from_responses",
]


def _count(value: Any) -> int | None:
    """A token count: a non-negative int (a float with no fraction is accepted), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _build(
    prompt: int,
    completion: int,
    total: int | None = None,
    *,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    audio_tokens: int | None = None,
    output_audio_tokens: int | None = None,
    image_tokens: int | None = None,
) -> Usage:
    """A :class:`Usage`; a part larger than the count it belongs to is dropped (bad data),
    and a total smaller than prompt + completion is replaced by their sum."""

    def part(value: int | None, whole: int) -> int:
        return value if value is not None and value <= whole else 0

    cache_read = part(cache_read_tokens, prompt)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total
        if total is not None and total >= prompt + completion
        else prompt + completion,
        cache_read_tokens=cache_read,
        cache_write_tokens=part(cache_write_tokens, prompt - cache_read),
        reasoning_tokens=part(reasoning_tokens, completion),
        audio_tokens=part(audio_tokens, prompt),
        output_audio_tokens=part(output_audio_tokens, completion),
        image_tokens=part(image_tokens, prompt),
    )


def usage_from_openai(obj: Any) -> Usage | None:
    """Read a Chat Completions ``usage`` object (OpenAI, and OpenAI-compatible hosts: xAI,
    DeepSeek, Groq, Mistral, OpenRouter, Together, Fireworks). Also accepts the Responses
    API's names (``input_tokens``/``output_tokens``), see :func:`usage_from_responses`.

    Returns ``None`` when ``obj`` is not an object with a prompt or completion count.
    """
    if not isinstance(obj, dict):
        return None
    if "prompt_tokens" not in obj and "completion_tokens" not in obj:
        return usage_from_responses(obj)
    prompt = _count(obj.get("prompt_tokens"))
    completion = _count(obj.get("completion_tokens"))
    if prompt is None and completion is None:
        return None
    prompt, completion = prompt or 0, completion or 0
    total = _count(obj.get("total_tokens"))
    prompt_details = obj.get("prompt_tokens_details")
    completion_details = obj.get("completion_tokens_details")
    cached = _count(_dig(prompt_details, "cached_tokens"))
    if cached is None:  # DeepSeek
        cached = _count(obj.get("prompt_cache_hit_tokens"))
    reasoning = _count(_dig(completion_details, "reasoning_tokens")) or 0
    if reasoning and total is not None and total == prompt + completion + reasoning:
        completion += reasoning  # xAI: completion_tokens leave the reasoning tokens out
    return _build(
        prompt,
        completion,
        total,
        cache_read_tokens=cached,
        cache_write_tokens=_count(obj.get("cache_creation_input_tokens"))
        or _count(_dig(prompt_details, "cache_write_tokens")),
        reasoning_tokens=reasoning,
        audio_tokens=_count(_dig(prompt_details, "audio_tokens")),
        image_tokens=_count(_dig(prompt_details, "image_tokens")),
        output_audio_tokens=_count(_dig(completion_details, "audio_tokens")),
    )


def chunk_usage(chunk: Any) -> dict[str, Any] | None:
    """The ``usage`` object a ``chat.completion.chunk`` carries: its ``usage``, else Groq's
    ``x_groq.usage`` (sent in the last chunk of every Groq stream); ``None`` if neither."""
    if not isinstance(chunk, dict):
        return None
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        return usage
    groq = _dig(chunk, "x_groq", "usage")
    return groq if isinstance(groq, dict) else None


def usage_from_responses(obj: Any) -> Usage | None:
    """Read a Responses API ``usage`` object (``input_tokens``, ``output_tokens``,
    ``total_tokens``, ``input_tokens_details.cached_tokens`` and ``.cache_write_tokens``,
    ``output_tokens_details.reasoning_tokens``); ``None`` without counts."""
    if not isinstance(obj, dict):
        return None
    prompt = _count(obj.get("input_tokens"))
    completion = _count(obj.get("output_tokens"))
    if prompt is None and completion is None:
        return None
    return _build(
        prompt or 0,
        completion or 0,
        _count(obj.get("total_tokens")),
        cache_read_tokens=_count(_dig(obj, "input_tokens_details", "cached_tokens")),
        cache_write_tokens=_count(_dig(obj, "input_tokens_details", "cache_write_tokens")),
        reasoning_tokens=_count(_dig(obj, "output_tokens_details", "reasoning_tokens")),
    )


def usage_from_anthropic(obj: Any) -> Usage | None:
    """Read an Anthropic Messages ``usage`` object: ``prompt_tokens`` is ``input_tokens +
    cache_creation_input_tokens + cache_read_input_tokens`` (Anthropic counts them apart);
    ``None`` without counts. For streams, merge ``message_start`` and ``message_delta``
    counts first (the proxy's Anthropic stream converter does)."""
    if not isinstance(obj, dict):
        return None
    parts = [
        _count(obj.get(k))
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    output = _count(obj.get("output_tokens"))
    if all(p is None for p in parts) and output is None:
        return None
    return _build(
        sum(p or 0 for p in parts),
        output or 0,
        cache_write_tokens=parts[1],
        cache_read_tokens=parts[2],
    )


def _modality(details: Any, modality: str) -> int | None:
    """The ``tokenCount`` of one modality in a Gemini ``*TokensDetails`` list."""
    if not isinstance(details, list):
        return None
    found = None
    for entry in details:
        if isinstance(entry, dict) and entry.get("modality") == modality:
            found = (found or 0) + (_count(entry.get("tokenCount")) or 0)
    return found


def usage_from_gemini(meta: Any) -> Usage | None:
    """Read a Gemini ``usageMetadata`` (a running total in streams: read the last one).
    Completion includes ``thoughtsTokenCount`` (thinking is billed as output); prompt
    includes ``toolUsePromptTokenCount``. ``None`` without counts."""
    if not isinstance(meta, dict):
        return None
    prompt = _count(meta.get("promptTokenCount"))
    candidates = _count(meta.get("candidatesTokenCount"))
    thoughts = _count(meta.get("thoughtsTokenCount"))
    tool_prompt = _count(meta.get("toolUsePromptTokenCount"))
    if prompt is None and candidates is None and thoughts is None:
        return None
    return _build(
        (prompt or 0) + (tool_prompt or 0),
        (candidates or 0) + (thoughts or 0),
        _count(meta.get("totalTokenCount")),
        cache_read_tokens=_count(meta.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        audio_tokens=_modality(meta.get("promptTokensDetails"), "AUDIO"),
        image_tokens=_modality(meta.get("promptTokensDetails"), "IMAGE"),
        output_audio_tokens=_modality(meta.get("candidatesTokensDetails"), "AUDIO"),
    )


def usage_from_cohere(obj: Any) -> Usage | None:
    """Read a Cohere v2 ``usage``: ``tokens`` counts, else ``billed_units``; ``cached_tokens``
    as cache reads. ``None`` without counts."""
    if not isinstance(obj, dict):
        return None

    def count(name: str) -> int | None:
        for value in (_dig(obj, "tokens", name), _dig(obj, "billed_units", name)):
            if (found := _count(value)) is not None:
                return found
        return None

    prompt, completion = count("input_tokens"), count("output_tokens")
    if prompt is None and completion is None:
        return None
    return _build(prompt or 0, completion or 0, cache_read_tokens=_count(obj.get("cached_tokens")))


def usage_from_ollama(obj: Any) -> Usage | None:
    """Read an Ollama answer's (or final stream line's) ``prompt_eval_count`` and
    ``eval_count``; ``None`` without either."""
    if not isinstance(obj, dict):
        return None
    prompt, completion = _count(obj.get("prompt_eval_count")), _count(obj.get("eval_count"))
    if prompt is None and completion is None:
        return None
    return _build(prompt or 0, completion or 0)


#: Usage readers by wire format name (``traceforge_shared.providers.WireFormat`` plus
#: ``responses``).
USAGE_FORMATS: dict[str, Callable[[Any], Usage | None]] = {
    "openai": usage_from_openai,
    "responses": usage_from_responses,
    "anthropic": usage_from_anthropic,
    "gemini": usage_from_gemini,
    "cohere": usage_from_cohere,
    "ollama": usage_from_ollama,
}


def usage_from(wire_format: str, obj: Any) -> Usage | None:
    """Read ``obj`` as the usage object of ``wire_format`` (a key of :data:`USAGE_FORMATS`).

    Raises:
        ValueError: ``wire_format`` is not one of :data:`USAGE_FORMATS`.
    """
    reader = USAGE_FORMATS.get(wire_format)
    if reader is None:
        raise ValueError(f"unknown usage format {wire_format!r}; known: {', '.join(USAGE_FORMATS)}")
    return reader(obj)


def openai_usage(usage: Usage) -> dict[str, Any]:
    """``usage`` as an OpenAI Chat Completions ``usage`` object: the three counts, then
    ``prompt_tokens_details`` (``cached_tokens``, ``audio_tokens``) and
    ``completion_tokens_details`` (``reasoning_tokens``, ``audio_tokens``) when any is non-zero,
    and ``cache_creation_input_tokens`` (no OpenAI equivalent; LiteLLM's name) when cache
    writes were reported. :func:`usage_from_openai` reads it back to an equal :class:`Usage`
    (``estimated`` aside)."""
    result: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    prompt_details = {
        k: v
        for k, v in (
            ("cached_tokens", usage.cache_read_tokens),
            ("audio_tokens", usage.audio_tokens),
            ("image_tokens", usage.image_tokens),
        )
        if v
    }
    completion_details = {
        k: v
        for k, v in (
            ("reasoning_tokens", usage.reasoning_tokens),
            ("audio_tokens", usage.output_audio_tokens),
        )
        if v
    }
    if prompt_details:
        result["prompt_tokens_details"] = prompt_details
    if completion_details:
        result["completion_tokens_details"] = completion_details
    if usage.cache_write_tokens:
        result["cache_creation_input_tokens"] = usage.cache_write_tokens
    return result


def responses_usage(usage: Usage) -> dict[str, Any]:
    """``usage`` as a Responses API ``usage`` object
    (https://platform.openai.com/docs/api-reference/responses/object): ``input_tokens``,
    ``input_tokens_details.cached_tokens``, ``output_tokens``,
    ``input_tokens_details.cache_write_tokens``, ``output_tokens_details.reasoning_tokens``
    (the details always present: the openai SDK's ``ResponseUsage`` requires them),
    ``total_tokens``.
    :func:`usage_from_responses` reads it back to the same counts (audio and image parts
    aside: the Responses usage has no field for them)."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }
