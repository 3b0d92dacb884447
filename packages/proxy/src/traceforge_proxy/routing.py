"""Which provider an OpenAI-format request goes to, from its model name.

Order: the ``X-TraceForge-Provider`` header; a ``provider/`` prefix on the model
(``anthropic/claude-3-5-sonnet``); an Azure deployment map entry; the providers' model
patterns (globs, case-insensitive, overridable per provider in config.yaml); the configured
``proxy.default_provider``. Anything else is a :class:`RoutingError` (the proxy answers 400 and
lists the patterns), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from traceforge_shared.config import Config
from traceforge_shared.providers import PROVIDER_SPECS, ProviderSpec

#: Header a client may send to pick the provider explicitly.
PROVIDER_HEADER = "X-TraceForge-Provider"


class RoutingError(ValueError):
    """No provider for a request; the message lists the ways to pick one."""


@dataclass(frozen=True)
class RouteChoice:
    """Where one request goes.

    Attributes:
        provider: a provider name of the registry (:mod:`traceforge_shared.providers`).
        model: the model name to send the provider (prefix removed).
        deployment: the Azure deployment, for ``azure``.
    """

    provider: str
    model: str
    deployment: str | None = None


class Router:
    """Model-name routing built from a :class:`Config` and the provider registry.

    Args:
        config: ``upstreams.<provider>.models`` (globs replacing a provider's defaults),
            ``upstreams.azure.deployments`` and ``proxy.default_provider``.
        specs: the providers, in the order their globs are tried (default: the registry).

    Attributes:
        providers: the provider names a header or a prefix may pick, in registry order.
        patterns: provider name → its lower-case model globs, in registry order.
    """

    def __init__(self, config: Config, specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS) -> None:
        self.providers = tuple(specs)
        self.patterns: dict[str, tuple[str, ...]] = {}
        for provider, spec in specs.items():
            settings = config.upstreams.get(provider)
            if settings is not None and settings.models is not None:
                self.patterns[provider] = tuple(p.lower() for p in settings.models)
            else:
                self.patterns[provider] = tuple(p.lower() for p in spec.model_globs)
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
            if provider not in self.providers:
                raise RoutingError(
                    f"unknown provider {header!r} in {PROVIDER_HEADER}; "
                    f"known: {', '.join(self.providers)}"
                )
            return self._choice(provider, _strip_prefix(model, provider))
        prefix, sep, rest = model.partition("/")
        if sep and prefix.lower() in self.providers and rest:
            return self._choice(prefix.lower(), rest)
        if model in self.deployments:
            return RouteChoice("azure", model, self.deployments[model])
        lowered = model.lower()
        for provider, patterns in self.patterns.items():
            if any(fnmatchcase(lowered, pattern) for pattern in patterns):
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
        by_name = [p for p, patterns in self.patterns.items() if not patterns and p != "azure"]
        if by_name:
            lines.append(f"  by prefix or header only: {', '.join(by_name)}")
        lines.append(
            f"Pick one with a prefix (anthropic/{model}) or the {PROVIDER_HEADER} header, "
            "add a pattern under upstreams.<provider>.models, or set proxy.default_provider "
            "in config.yaml."
        )
        return "\n".join(lines)


def _strip_prefix(model: str, provider: str) -> str:
    prefix, sep, rest = model.partition("/")
    return rest if sep and prefix.lower() == provider and rest else model
