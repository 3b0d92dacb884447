"""One provider's description: :class:`ProviderSpec` and the value types of its fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a provider's API reads requests and writes answers. Every value but ``openai`` names
#: the adapter converting to and from the OpenAI Chat Completions format.
WireFormat = Literal["openai", "anthropic", "gemini", "ollama", "cohere"]

#: The header carrying the key: ``bearer`` is ``Authorization: Bearer <key>``, ``none`` sends
#: no key, any other value is the header name itself.
AuthStyle = Literal["bearer", "x-api-key", "x-goog-api-key", "api-key", "none"]

#: The OpenAI Chat Completions endpoint, below an OpenAI-compatible base URL.
_OPENAI_CHAT = (r"chat/completions",)


@dataclass(frozen=True)
class ProviderSpec:
    """What TraceForge knows about one provider.

    Attributes:
        name: registry key, recorded in traces, used in ``upstreams:`` and routing prefixes
            (``groq/llama-3.3-70b-versatile``).
        display_name: the provider's name for people (``xAI``).
        model_globs: model names the front door routes here by default (globs matched
            case-insensitively; ``upstreams.<name>.models`` replaces them).
        base_url: the real API's base (OpenAI-compatible ones include the version path,
            ``https://api.groq.com/openai/v1``); ``None``: the user sets
            ``upstreams.<name>.base_url`` (Azure, self-hosted servers).
        key_envs: environment variables holding the key, in order of preference.
        auth_style: the header the key goes in (see :data:`AuthStyle`).
        fixed_headers: ``(name, value)`` headers every request needs (``anthropic-version``).
        wire_format: the API's format (see :data:`WireFormat`).
        chat_paths: regular expressions (full match) of the chat endpoints, relative to the
            base URL with no leading ``/``; a ``model`` group names the model when the path
            holds it (Gemini), else the body's ``model`` does.
        stream_usage: the real API accepts ``stream_options.include_usage`` on streams, so
            the proxy asks for usage on the client's behalf (OpenAI format only).
        pricing_id: the provider's id in genai-prices; ``None``: no public price list.
        local: runs on the user's machine, so calls cost nothing.
        otel_name: OpenTelemetry ``gen_ai.provider.name`` (GenAI semantic conventions).
        mock_prefix: the embedded mock upstream's path serving this provider (its base URL
            there); ``None``: never mocked (Azure).
        host_env: environment variable holding the API's address instead of a key
            (``OLLAMA_HOST``).
    """

    name: str
    display_name: str
    otel_name: str
    pricing_id: str | None
    model_globs: tuple[str, ...] = ()
    base_url: str | None = None
    key_envs: tuple[str, ...] = ()
    auth_style: AuthStyle = "bearer"
    fixed_headers: tuple[tuple[str, str], ...] = ()
    wire_format: WireFormat = "openai"
    chat_paths: tuple[str, ...] = _OPENAI_CHAT
    stream_usage: bool = False
    local: bool = False
    mock_prefix: str | None = "/v1"
    host_env: str | None = None

    @property
    def native_route(self) -> str:
        """The proxy path prefix of the provider's own API (``/anthropic``); also served
        under ``/passthrough/<name>``."""
        return f"/{self.name}"

    @property
    def openai_compatible(self) -> bool:
        """Whether the provider speaks the OpenAI Chat Completions format itself."""
        return self.wire_format == "openai"
