"""Which provider an OpenAI-format request goes to, from its model name.

Order: the ``X-TraceForge-Provider`` header; a ``provider/`` prefix on the model
(``anthropic/claude-3-5-sonnet``); an Azure deployment map entry; the providers' model
patterns (globs, case-insensitive, overridable per provider in config.yaml); the configured
``proxy.default_provider``. Anything else is a :class:`RoutingError` (the proxy answers 400 and
lists the patterns), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from traceforge_shared.config import PROVIDERS, Config

#: Header a client may send to pick the provider explicitly.
PROVIDER_HEADER = "X-TraceForge-Provider"

#: Default model patterns per provider (``upstreams.<provider>.models`` replaces them).
DEFAULT_MODEL_PATTERNS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-*", "ft:gpt-*"),
    "anthropic": ("claude-*",),
    "gemini": ("gemini-*",),
    "ollama": ("llama*", "mistral*", "codellama*", "phi*", "qwen*", "gemma*", "deepseek*"),
    "xai": ("grok-*",),
    "cohere": ("command-*",),
    "azure": (),
}


class RoutingError(ValueError):
    """No provider for a request; the message lists the ways to pick one."""


@dataclass(frozen=True)
class RouteChoice:
    """Where one request goes.

    Attributes:
        provider: one of :data:`~traceforge_shared.config.PROVIDERS`.
        model: the model name to send the provider (prefix removed).
        deployment: the Azure deployment, for ``azure``.
    """

    provider: str
    model: str
    deployment: str | None = None


class Router:
    """Model-name routing built from a :class:`Config`."""

    def __init__(self, config: Config) -> None:
        self.patterns: dict[str, tuple[str, ...]] = {}
        for provider in PROVIDERS:
            settings = config.upstreams.get(provider)
            if settings is not None and settings.models is not None:
                self.patterns[provider] = tuple(p.lower() for p in settings.models)
            else:
                self.patterns[provider] = DEFAULT_MODEL_PATTERNS[provider]
        azure = config.upstreams.get("azure")
        self.deployments = dict(azure.deployments) if azure is not None else {}
        self.default_provider = config.proxy.default_provider

    def route(self, model: str, header: str | None = None) -> RouteChoice:
        """Choose the provider for ``model`` (``header``: the ``X-TraceForge-Provider`` value).

        Raises:
            RoutingError: unknown provider in the header or prefix, or no pattern matches.
        """
        if header:
            provider = header.strip().lower()
            if provider not in PROVIDERS:
                raise RoutingError(
                    f"unknown provider {header!r} in {PROVIDER_HEADER}; "
                    f"known: {', '.join(PROVIDERS)}"
                )
            return self._choice(provider, _strip_prefix(model, provider))
        prefix, sep, rest = model.partition("/")
        if sep and prefix.lower() in PROVIDERS and rest:
            return self._choice(prefix.lower(), rest)
        if model in self.deployments:
            return RouteChoice("azure", model, self.deployments[model])
        lowered = model.lower()
        for provider in PROVIDERS:
            if any(fnmatchcase(lowered, pattern) for pattern in self.patterns[provider]):
                return RouteChoice(provider, model)
        if self.default_provider is not None:
            return self._choice(self.default_provider, model)
        raise RoutingError(self._unknown_message(model))

    def _choice(self, provider: str, model: str) -> RouteChoice:
        if provider == "azure":
            deployment = self.deployments.get(model)
            if deployment is None:
                raise RoutingError(
                    f"model {model!r} has no Azure deployment; add it to "
                    "upstreams.azure.deployments in config.yaml"
                )
            return RouteChoice("azure", model, deployment)
        return RouteChoice(provider, model)

    def _unknown_message(self, model: str) -> str:
        lines = [
            f"no provider for model {model!r}. Models are routed by name:",
            *(
                f"  {provider}: {', '.join(patterns)}"
                for provider, patterns in self.patterns.items()
                if patterns
            ),
        ]
        if self.deployments:
            lines.append(f"  azure: {', '.join(sorted(self.deployments))}")
        lines.append(
            f"Pick one with a prefix (anthropic/{model}) or the {PROVIDER_HEADER} header, "
            "add a pattern under upstreams.<provider>.models, or set proxy.default_provider "
            "in config.yaml."
        )
        return "\n".join(lines)


def _strip_prefix(model: str, provider: str) -> str:
    prefix, sep, rest = model.partition("/")
    return rest if sep and prefix.lower() == provider and rest else model
