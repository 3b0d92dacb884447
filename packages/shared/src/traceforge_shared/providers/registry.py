"""The registry: one :class:`ProviderSpec` per provider, and lookups by name."""

from __future__ import annotations

from collections.abc import Mapping

from traceforge_shared.providers.spec import ProviderSpec


def _compatible(
    name: str,
    display_name: str,
    base_url: str | None,
    key_env: str,
    *,
    otel_name: str,
    pricing_id: str | None,
    stream_usage: bool = False,
    model_globs: tuple[str, ...] = (),
) -> ProviderSpec:
    """An OpenAI-compatible host: Bearer key, the mock's OpenAI routes. Its ``model_globs``
    claim models only while the host is configured (its key set) or no configured provider
    and no ``--upstream`` claims them: see ``docs/providers.md`` "Routing"."""
    return ProviderSpec(
        name=name,
        display_name=display_name,
        otel_name=otel_name,
        pricing_id=pricing_id,
        model_globs=model_globs,
        base_url=base_url,
        key_envs=(key_env,),
        stream_usage=stream_usage,
    )


_SPECS = (
    ProviderSpec(
        name="openai",
        display_name="OpenAI",
        otel_name="openai",
        pricing_id="openai",
        model_globs=("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-*", "ft:gpt-*"),
        base_url="https://api.openai.com/v1",
        key_envs=("OPENAI_API_KEY",),
        stream_usage=True,
    ),
    ProviderSpec(
        name="anthropic",
        display_name="Anthropic",
        otel_name="anthropic",
        pricing_id="anthropic",
        model_globs=("claude-*",),
        base_url="https://api.anthropic.com",
        key_envs=("ANTHROPIC_API_KEY",),
        auth_style="x-api-key",
        fixed_headers=(("anthropic-version", "2023-06-01"),),
        wire_format="anthropic",
        chat_paths=(r"v1/messages",),
        mock_prefix="/anthropic",
    ),
    ProviderSpec(
        name="gemini",
        display_name="Google Gemini",
        otel_name="gcp.gemini",
        pricing_id="google",
        model_globs=("gemini-*",),
        base_url="https://generativelanguage.googleapis.com",
        key_envs=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        auth_style="x-goog-api-key",
        wire_format="gemini",
        chat_paths=(r"v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?:stream)?[gG]enerateContent",),
        mock_prefix="/gemini",
    ),
    ProviderSpec(
        name="ollama",
        display_name="Ollama",
        otel_name="ollama",  # no well-known value in the GenAI conventions: the registry name
        pricing_id=None,
        model_globs=(
            "llama*",
            "mistral*",
            "codellama*",
            "phi*",
            "qwen*",
            "gemma*",
            "deepseek*",
            "nomic-embed-text*",
            "mxbai-embed-*",
            "all-minilm*",
        ),
        base_url="http://localhost:11434",
        auth_style="none",
        wire_format="ollama",
        chat_paths=(r"api/chat", r"api/generate"),
        local=True,
        mock_prefix="/ollama",
        host_env="OLLAMA_HOST",
    ),
    ProviderSpec(
        name="xai",
        display_name="xAI",
        otel_name="x_ai",
        pricing_id="x-ai",
        model_globs=("grok-*",),
        base_url="https://api.x.ai/v1",
        key_envs=("XAI_API_KEY",),
        mock_prefix="/xai/v1",
    ),
    ProviderSpec(
        name="cohere",
        display_name="Cohere",
        otel_name="cohere",
        pricing_id="cohere",
        model_globs=("command-*", "embed-*"),
        base_url="https://api.cohere.com",
        key_envs=("CO_API_KEY", "COHERE_API_KEY"),
        wire_format="cohere",
        chat_paths=(r"v2/chat",),
        mock_prefix="/cohere",
    ),
    ProviderSpec(
        name="azure",
        display_name="Azure OpenAI",
        otel_name="azure.ai.openai",
        pricing_id="azure",
        base_url=None,  # https://<resource>.openai.azure.com, from config
        key_envs=("AZURE_OPENAI_API_KEY",),
        auth_style="api-key",
        mock_prefix=None,
    ),
    _compatible(
        "groq",
        "Groq",
        "https://api.groq.com/openai/v1",
        "GROQ_API_KEY",
        otel_name="groq",
        pricing_id="groq",
        # Groq also sends x_groq.usage in the last chunk, read whether asked or not.
        stream_usage=True,
        # Groq's names (https://console.groq.com/docs/models); plain Llama names stay Ollama's
        # unless GROQ_API_KEY is set.
        model_globs=(
            "*-versatile",
            "*-instant",
            "meta-llama/llama-4-*",
            "moonshotai/kimi-*",
            "qwen/qwen3-*",
        ),
    ),
    _compatible(
        "deepseek",
        "DeepSeek",
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
        otel_name="deepseek",
        pricing_id="deepseek",
        stream_usage=True,  # https://api-docs.deepseek.com/api/create-chat-completion
        model_globs=("deepseek-*",),
    ),
    _compatible(
        "mistral",
        "Mistral AI",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        otel_name="mistral_ai",
        pricing_id="mistral",
        # No stream_options (422 reported); usage comes in the last chunk anyway.
        model_globs=(
            "mistral-*",
            "magistral-*",
            "codestral-*",
            "devstral-*",
            "ministral-*",
            "pixtral-*",
            "open-mistral-*",
            "open-mixtral-*",
        ),
    ),
    _compatible(
        # OpenRouter always sends usage in the last chunk, so it need not be asked for.
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        otel_name="openrouter",
        pricing_id="openrouter",  # no well-known OTel value
    ),
    _compatible(
        "together",
        "Together AI",
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
        otel_name="together",
        pricing_id="together",  # no well-known OTel value
        # Usage comes in the last chunk unasked. Organisation-prefixed names
        # (https://docs.together.ai/docs/serverless-models).
        model_globs=(
            "meta-llama/*",
            "mistralai/*",
            "qwen/*",
            "deepseek-ai/*",
            "google/gemma-*",
            "togethercomputer/*",
        ),
    ),
    _compatible(
        "fireworks",
        "Fireworks AI",
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        otel_name="fireworks",
        pricing_id="fireworks",  # no well-known OTel value
        model_globs=("accounts/fireworks/models/*",),
    ),
    _compatible(
        # vLLM, LM Studio, llama.cpp servers: upstreams.openai-compatible.base_url.
        "openai-compatible",
        "OpenAI-compatible server",
        None,
        "OPENAI_COMPATIBLE_API_KEY",
        otel_name="openai-compatible",
        pricing_id=None,  # no well-known OTel value
    ),
)

#: Every provider by name, in routing order (model globs are tried in this order).
PROVIDER_SPECS: Mapping[str, ProviderSpec] = {spec.name: spec for spec in _SPECS}


class UnknownProviderError(KeyError):
    """A provider name the registry does not hold; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def provider_names(specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS) -> tuple[str, ...]:
    """The provider names of ``specs`` (default: the registry), in registry order."""
    return tuple(specs)


def provider_spec(name: str, specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS) -> ProviderSpec:
    """The spec of provider ``name`` (exact, lower-case).

    Raises:
        UnknownProviderError: ``name`` is not in ``specs``; the message lists the known names.
    """
    try:
        return specs[name]
    except KeyError:
        raise UnknownProviderError(
            f"unknown provider {name!r}; known: {', '.join(specs)}"
        ) from None
