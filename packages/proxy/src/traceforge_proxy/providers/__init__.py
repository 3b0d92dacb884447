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
from traceforge_shared.providers import PROVIDER_SPECS

__all__ = [
    "ProviderAdapter",
    "ProviderError",
    "ProviderRequest",
    "StreamConverter",
    "StreamUsage",
    "adapter_for",
    "native_chat_model",
]


@cache
def _adapters() -> dict[str, ProviderAdapter]:
    """Adapters by the wire format they convert (``ProviderAdapter.name``)."""
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
    """The adapter converting ``provider``'s wire format (its registry entry's
    ``wire_format``), or ``None`` for OpenAI-compatible providers (openai, xai, azure, groq,
    ...), whose format needs no conversion, and for names not in the registry."""
    spec = PROVIDER_SPECS.get(provider)
    return None if spec is None else _adapters().get(spec.wire_format)


@cache
def _chat_paths(provider: str) -> tuple[re.Pattern[str], ...]:
    spec = PROVIDER_SPECS.get(provider)
    paths = spec.chat_paths if spec is not None else ("chat/completions",)
    return tuple(re.compile(path) for path in paths)


def native_chat_model(provider: str, tail: str, body: object) -> str | None:
    """If ``tail`` (the path below the provider's base URL, no leading ``/``) is one of the
    provider's chat endpoints (its registry entry's ``chat_paths``), return the model the
    request names: the path's ``model`` group (Gemini), else the body's ``model``, ``""`` when
    it names none. Otherwise ``None`` (the call is not normalized: embeddings, model lists,
    ...)."""
    for path in _chat_paths(provider):
        match = path.fullmatch(tail)
        if match is None:
            continue
        if "model" in path.groupindex:
            return match.group("model")
        model = body.get("model") if isinstance(body, dict) else None
        return model if isinstance(model, str) else ""
    return None
