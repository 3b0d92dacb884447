"""Provider adapters (pure conversions to and from the OpenAI format) and the native chat
endpoints of each provider, used to give passthrough traces their normalized view."""

from __future__ import annotations

import re
from functools import cache

from traceforge_proxy.providers.base import (
    ProviderAdapter,
    ProviderError,
    ProviderRequest,
    StreamConverter,
    StreamUsage,
)

__all__ = [
    "ProviderAdapter",
    "ProviderError",
    "ProviderRequest",
    "StreamConverter",
    "StreamUsage",
    "adapter_for",
    "native_chat_model",
]

#: Gemini's content generation paths: ``v1beta/models/{model}:generateContent``.
_GEMINI_PATH = re.compile(r"^v1(?:beta|alpha)?/models/([^/:]+):(?:stream)?[gG]enerateContent$")


@cache
def _adapters() -> dict[str, ProviderAdapter]:
    from traceforge_proxy.providers.anthropic import AnthropicAdapter
    from traceforge_proxy.providers.cohere import CohereAdapter
    from traceforge_proxy.providers.gemini import GeminiAdapter
    from traceforge_proxy.providers.ollama import OllamaAdapter

    adapters: list[ProviderAdapter] = [
        AnthropicAdapter(),
        GeminiAdapter(),
        OllamaAdapter(),
        CohereAdapter(),
    ]
    return {adapter.name: adapter for adapter in adapters}


def adapter_for(provider: str) -> ProviderAdapter | None:
    """The adapter converting ``provider``'s format, or ``None`` for OpenAI-compatible
    providers (openai, xai, azure), whose format needs no conversion."""
    return _adapters().get(provider)


def native_chat_model(provider: str, tail: str, body: object) -> str | None:
    """If ``tail`` (the path below the provider's base URL, no leading ``/``) is the
    provider's chat endpoint, return the model the request names (``""`` when it names none);
    otherwise ``None`` (the call is not normalized: embeddings, model lists, ...)."""
    model = body.get("model") if isinstance(body, dict) else None
    named = model if isinstance(model, str) else ""
    if provider == "gemini":
        match = _GEMINI_PATH.match(tail)
        return match.group(1) if match else None
    chat_paths = {
        "anthropic": ("v1/messages",),
        "ollama": ("api/chat", "api/generate"),
        "cohere": ("v2/chat",),
    }.get(provider, ("chat/completions",))
    return named if tail in chat_paths else None
