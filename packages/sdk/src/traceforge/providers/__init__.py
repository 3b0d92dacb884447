"""One streaming interface over every provider's official SDK.

```python
from traceforge import Signal
from traceforge.providers import StreamRequest, TokenEvent, get_provider

provider = get_provider("claude-sonnet-4-5")          # or a name: get_provider("anthropic")
request = StreamRequest(model="claude-sonnet-4-5", prompt="Hello")
async for event in provider.stream(request, signal=Signal.timeout(30)):
    if isinstance(event, TokenEvent):
        print(event.text, end="")
```

Backends: ``openai`` (OpenAI, Azure, xAI, every OpenAI-compatible host), ``anthropic``,
``google-genai`` (Gemini), ``ollama``, ``cohere`` (v2). Where calls go:
`traceforge.client_config`. Events: `traceforge.providers.events`. Guide: ``docs/sdk.md``.
"""

from __future__ import annotations

import fnmatch

from traceforge.client_config import Endpoint, resolve_endpoint
from traceforge.limits import RateLimits
from traceforge.providers.base import Provider
from traceforge.providers.events import (
    DoneEvent,
    ErrorEvent,
    GenerateResult,
    ReasoningEvent,
    StreamEvent,
    StreamRequest,
    TokenEvent,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from traceforge.retry import RetryPolicy
from traceforge_shared.providers import PROVIDER_SPECS, ProviderSpec, UnknownProviderError

__all__ = [
    "DEFAULT_RETRY",
    "DoneEvent",
    "ErrorEvent",
    "GenerateResult",
    "Provider",
    "ReasoningEvent",
    "StreamEvent",
    "StreamRequest",
    "TokenEvent",
    "ToolCall",
    "ToolCallEvent",
    "UnknownProviderError",
    "Usage",
    "get_provider",
    "provider_for_model",
]


#: The retry policy `get_provider` uses by default: 3 attempts, 0.5 s initial backoff.
DEFAULT_RETRY = RetryPolicy()


def provider_for_model(name_or_model: str) -> ProviderSpec:
    """The registry entry for a provider name (``"xai"``), a ``provider/model`` prefix
    (``"groq/llama-3.3-70b"``) or a model matched by the registry's globs (``"grok-3-mini"``,
    tried in registry order, case-insensitive).

    Raises:
        UnknownProviderError: nothing matches; the message lists the provider names.
    """
    wanted = name_or_model.strip()
    lowered = wanted.lower()
    if lowered in PROVIDER_SPECS:
        return PROVIDER_SPECS[lowered]
    prefix, sep, rest = lowered.partition("/")
    if sep and rest and prefix in PROVIDER_SPECS:
        return PROVIDER_SPECS[prefix]
    for spec in PROVIDER_SPECS.values():
        if any(fnmatch.fnmatchcase(lowered, glob.lower()) for glob in spec.model_globs):
            return spec
    raise UnknownProviderError(
        f"no provider for {name_or_model!r}: not a provider name and no model pattern "
        f"matches; providers: {', '.join(PROVIDER_SPECS)}"
    )


def _backend(spec: ProviderSpec) -> type[Provider]:
    # Imported here so that only the SDK in use is loaded.
    if spec.wire_format == "openai":
        from traceforge.providers.openai_backend import OpenAIProvider

        return OpenAIProvider
    if spec.wire_format == "anthropic":
        from traceforge.providers.anthropic_backend import AnthropicProvider

        return AnthropicProvider
    if spec.wire_format == "gemini":
        from traceforge.providers.gemini_backend import GeminiProvider

        return GeminiProvider
    if spec.wire_format == "ollama":
        from traceforge.providers.ollama_backend import OllamaProvider

        return OllamaProvider
    from traceforge.providers.cohere_backend import CohereProvider

    return CohereProvider


def get_provider(
    name_or_model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    use_proxy: bool | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    limits: RateLimits | None = None,
) -> Provider:
    """The `Provider` for a provider name or a model (see `provider_for_model`).

    Args:
        name_or_model: ``"anthropic"``, ``"claude-sonnet-4-5"``, ``"groq/llama-3.3-70b"``.
        base_url: where to send calls, in the provider SDK's convention (wins over the
            proxy and the registry); see `traceforge.client_config`.
        api_key: the key (else the provider's key variables; never logged).
        use_proxy: True: only through the TraceForge proxy; False: never; None (default):
            through it when ``TRACEFORGE_PROXY_URL`` is set or one answers at 127.0.0.1:8787.
        retry: how opening a stream is retried (`traceforge.retry.RetryPolicy`; default
            3 attempts; None: never retried).
        limits: `traceforge.limits.RateLimits` for this provider, process-wide (None: the
            ones already set with `traceforge.limits.limiter_for`, unlimited by default).

    Raises:
        UnknownProviderError: no provider matches ``name_or_model``.
        ValueError: the provider has no default base URL and none was given.
    """
    spec = provider_for_model(name_or_model)
    endpoint: Endpoint = resolve_endpoint(
        spec, base_url=base_url, api_key=api_key, use_proxy=use_proxy
    )
    return _backend(spec)(spec, endpoint, retry=retry, limits=limits)
