"""The upstream of each provider: where its requests go and with which credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from traceforge_shared.config import OPENAI_BASE_URL, PROVIDERS, Config

#: Hosts known to accept ``stream_options.include_usage`` on chat completion streams.
USAGE_OPTION_HOSTS = frozenset({"api.openai.com"})

#: The real APIs. OpenAI-compatible providers include the version path.
DEFAULT_BASE_URLS: dict[str, str | None] = {
    "openai": OPENAI_BASE_URL,
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "ollama": "http://localhost:11434",
    "xai": "https://api.x.ai/v1",
    "cohere": "https://api.cohere.com",
    "azure": None,  # https://<resource>.openai.azure.com, from config
}

#: Environment variables holding each provider's key, in order of preference.
KEY_ENVS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "ollama": (),
    "xai": ("XAI_API_KEY",),
    "cohere": ("CO_API_KEY", "COHERE_API_KEY"),
    "azure": ("AZURE_OPENAI_API_KEY",),
}

#: The header each provider reads its key from; ``bearer`` is ``Authorization: Bearer <key>``.
AUTH_STYLES: dict[str, str] = {
    "openai": "bearer",
    "anthropic": "x-api-key",
    "gemini": "x-goog-api-key",
    "ollama": "none",
    "xai": "bearer",
    "cohere": "bearer",
    "azure": "api-key",
}

#: Headers every request to the provider needs.
FIXED_HEADERS: dict[str, tuple[tuple[str, str], ...]] = {
    "anthropic": (("anthropic-version", "2023-06-01"),),
}

#: Providers that speak the OpenAI Chat Completions format themselves.
OPENAI_COMPATIBLE = frozenset({"openai", "xai", "azure"})

#: Path of each provider on the embedded mock upstream (its base URL there).
MOCK_PREFIXES: dict[str, str] = {
    "openai": "/v1",
    "anthropic": "/anthropic",
    "gemini": "/gemini",
    "ollama": "/ollama",
    "xai": "/xai/v1",
    "cohere": "/cohere",
}

#: Headers that carry a client's credentials, by auth style.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


@dataclass(frozen=True)
class Upstream:
    """Where one provider's requests are forwarded.

    Attributes:
        provider: provider name recorded in traces (``gen_ai.provider.name``).
        base_url: API base (see :class:`~traceforge_shared.config.UpstreamConfig`);
            ``None`` until the embedded mock's address is known, or for an unconfigured Azure.
        api_key: key sent when the client sends none (or, on converted routes, instead of
            the client's).
        inject_stream_usage: ask for usage on OpenAI-format streams whose client did not.
        mock: whether this is TraceForge's embedded mock upstream.
        api_version: Azure's ``api-version`` query parameter.
    """

    provider: str
    base_url: str | None
    api_key: str | None
    inject_stream_usage: bool
    mock: bool = False
    api_version: str | None = None

    def url_for(self, tail: str, query: str = "") -> str:
        """Return the upstream URL for a path below the base URL (``chat/completions``).

        Raises:
            LookupError: the upstream has no address (Azure without ``base_url``).
        """
        if self.base_url is None:
            raise LookupError(
                f"no base_url for provider {self.provider}: set upstreams.{self.provider}"
                ".base_url in config.yaml"
            )
        url = f"{self.base_url.rstrip('/')}/{tail.lstrip('/')}"
        return f"{url}?{query}" if query else url

    def auth_headers(self, key: str | None = None) -> dict[str, str]:
        """Headers carrying ``key`` (default: :attr:`api_key`) in the provider's style, plus
        the provider's fixed headers (``anthropic-version``)."""
        headers = dict(FIXED_HEADERS.get(self.provider, ()))
        key = key if key is not None else self.api_key
        style = AUTH_STYLES.get(self.provider, "bearer")
        if key and style != "none":
            if style == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers[style] = key
        return headers


def resolve_upstream(
    config: Config,
    provider: str = "openai",
    *,
    override_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Upstream:
    """Pick one provider's upstream from ``--upstream``, config and environment.

    Order: ``override_url``; ``upstreams.<provider>.base_url`` in config; the real API when
    the provider's key variable is set (Ollama: when ``OLLAMA_HOST`` is set; Azure: never
    without ``base_url``); else the embedded mock (``mock=True``, ``base_url=None``: the caller
    starts it and fills the address in). ``inject_stream_usage`` follows config when set, else
    is on for OpenAI and the mock only.
    """
    env = os.environ if env is None else env
    settings = config.upstreams.get(provider)
    key_envs = (
        (settings.api_key_env,)
        if settings is not None and settings.api_key_env
        else KEY_ENVS.get(provider, ())
    )
    api_key = next((env[name] for name in key_envs if env.get(name)), None)
    base_url = override_url or (settings.base_url if settings else None)
    mock = False
    if base_url is None:
        if provider == "ollama" and env.get("OLLAMA_HOST"):
            host = env["OLLAMA_HOST"]
            base_url = host if "://" in host else f"http://{host}"
        elif api_key and provider != "azure":
            base_url = DEFAULT_BASE_URLS[provider]
        elif provider in MOCK_PREFIXES:
            mock = True
    configured = settings.inject_stream_usage if settings else None
    if configured is not None:
        inject = configured
    else:
        inject = provider == "openai" and (
            mock or urlsplit(base_url or "").hostname in USAGE_OPTION_HOSTS
        )
    return Upstream(
        provider=provider,
        base_url=base_url,
        api_key=api_key,
        inject_stream_usage=inject,
        mock=mock,
        api_version=settings.api_version if settings is not None else None,
    )


def resolve_upstreams(
    config: Config,
    *,
    override_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Upstream]:
    """Every provider's upstream (see :func:`resolve_upstream`); ``override_url`` applies to
    the ``openai`` upstream only."""
    return {
        provider: resolve_upstream(
            config,
            provider,
            override_url=override_url if provider == "openai" else None,
            env=env,
        )
        for provider in PROVIDERS
    }
