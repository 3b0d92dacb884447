"""Which provider an OpenAI-format request goes to, from its model name.

Order: the ``X-TraceForge-Provider`` header; a ``provider/`` prefix on the model
(``anthropic/claude-3-5-sonnet``); an Azure deployment map entry; the model patterns (globs,
case-insensitive, overridable per provider in config.yaml) of *configured* providers; the
``--upstream`` address (a custom OpenAI upstream) for any other model; the patterns of the
providers that are not configured (they are answered by the embedded mock); the configured
``proxy.default_provider``. Anything else is a :class:`RoutingError` (the proxy answers 400 and
lists the patterns), never a guess.

A provider is *configured* when its upstream is real, not the mock: its key variable is set,
``upstreams.<name>.base_url`` is in config.yaml, its host variable is set (``OLLAMA_HOST``), or
(for ``openai``) ``--upstream`` was given. So with ``--upstream`` pointing at Groq,
``llama-3.3-70b-versatile`` (which Ollama's ``llama*`` also matches) reaches that upstream unless
Ollama is configured; it never gets a canned mock answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from traceforge_shared.config import Config
from traceforge_shared.providers import PROVIDER_SPECS, ProviderSpec

if TYPE_CHECKING:
    from traceforge_proxy.upstream import Upstream

#: Header a client may send to pick the provider explicitly.
PROVIDER_HEADER = "X-TraceForge-Provider"
#: Model names whose matching providers :class:`Router` remembers (then it starts over).
_MATCH_CACHE_SIZE = 4096


class RoutingError(ValueError):
    """No provider for a request; the message lists the ways to pick one."""


@dataclass(frozen=True)
class RouteChoice:
    """Where one request goes.

    Attributes:
        provider: a provider name of the registry (:mod:`traceforge_shared.providers`).
        model: the model name to send the provider (prefix removed).
        deployment: the Azure deployment, for ``azure``.
        upstream: the upstream to send to when it is not ``provider``'s own: ``openai`` for a
            model sent to the ``--upstream`` address (``provider`` is then the provider that
            address or the model name belongs to, for the trace and its price, else
            ``openai-compatible``).
    """

    provider: str
    model: str
    deployment: str | None = None
    upstream: str | None = None


class Router:
    """Model-name routing built from a :class:`Config` and the provider registry.

    Args:
        config: ``upstreams.<provider>.models`` (globs replacing a provider's defaults),
            ``upstreams.azure.deployments`` and ``proxy.default_provider``.
        specs: the providers, in the order their globs are tried (default: the registry).
        upstreams: the resolved upstreams by provider (see
            :func:`~traceforge_proxy.upstream.resolve_upstreams`): which providers are
            configured (not ``mock``) and whether the ``openai`` one is a custom address
            (``--upstream``). ``None``: every provider counts as configured (globs in
            registry order, no ``--upstream`` fallback).

    Attributes:
        providers: the provider names a header or a prefix may pick, in registry order.
        patterns: provider name → its lower-case model globs, in registry order.
    """

    def __init__(
        self,
        config: Config,
        specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS,
        upstreams: Mapping[str, Upstream] | None = None,
    ) -> None:
        self.providers = tuple(specs)
        self.specs = specs
        #: providers with a real upstream; ``None``: all of them.
        self.configured: frozenset[str] | None = None
        #: the provider name the ``--upstream`` address belongs to (by host), if any.
        self.custom_host: str | None = None
        #: whether a custom OpenAI upstream (``--upstream``) takes the unclaimed models.
        self.custom_upstream = False
        if upstreams is not None:
            self.configured = frozenset(n for n, u in upstreams.items() if not u.mock)
            openai = upstreams.get("openai")
            if openai is not None and not openai.mock and openai.base_url is not None:
                host = _hostname(openai.base_url)
                default = specs["openai"].base_url if "openai" in specs else None
                self.custom_upstream = host != _hostname(default)
                self.custom_host = next(
                    (
                        name
                        for name, spec in specs.items()
                        if name != "openai" and spec.base_url and _hostname(spec.base_url) == host
                    ),
                    None,
                )
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
        #: ``proxy.unsupported_params``: ``error`` or ``drop`` (converted route).
        self.unsupported_params = config.proxy.unsupported_params
        self._match_cache: dict[str, tuple[str, ...]] = {}

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
        matched = self._matching(model)
        configured = self.configured
        for provider in matched:
            if configured is None or provider in configured:
                return RouteChoice(provider, model)
        if self.custom_upstream:
            return RouteChoice(self._custom_name(matched), model, upstream="openai")
        if matched:
            return RouteChoice(matched[0], model)
        if self.default_provider is not None:
            return self._choice(self.default_provider, model)
        raise RoutingError(self._unknown_message(model))

    def _matching(self, model: str) -> tuple[str, ...]:
        """The providers whose model patterns match ``model`` (case-insensitive), in the
        registry's order; remembered per model name (an app calls a few models many times;
        the glob matching was ~1% of a call's CPU), forgotten past
        :data:`_MATCH_CACHE_SIZE` names."""
        cached = self._match_cache.get(model)
        if cached is not None:
            return cached
        lowered = model.lower()
        matched = tuple(
            provider
            for provider, patterns in self.patterns.items()
            if any(fnmatchcase(lowered, pattern) for pattern in patterns)
        )
        if len(self._match_cache) >= _MATCH_CACHE_SIZE:
            self._match_cache.clear()
        self._match_cache[model] = matched
        return matched

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

    def _custom_name(self, matched: Sequence[str]) -> str:
        """The provider recorded for a model sent to the ``--upstream`` address: the provider
        whose host it is; else the first OpenAI-format, non-local provider whose patterns
        match the model (``mistral-large-latest`` → ``mistral``); else
        ``openai-compatible``."""
        if self.custom_host is not None:
            return self.custom_host
        for provider in matched:
            spec = self.specs[provider]
            if spec.openai_compatible and not spec.local and provider != "azure":
                return provider
        return "openai-compatible"

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


def _hostname(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


def _strip_prefix(model: str, provider: str) -> str:
    prefix, sep, rest = model.partition("/")
    return rest if sep and prefix.lower() == provider and rest else model
