"""The upstream of each provider: where its requests go and with which credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from traceforge_shared.config import Config
from traceforge_shared.providers import PROVIDER_SPECS, ProviderSpec, provider_spec

# Views of the provider registry (:mod:`traceforge_shared.providers`) for older importers.

#: Environment variables holding each provider's key, in order of preference.
KEY_ENVS: dict[str, tuple[str, ...]] = {
    name: spec.key_envs for name, spec in PROVIDER_SPECS.items()
}

#: Providers that speak the OpenAI Chat Completions format themselves.
OPENAI_COMPATIBLE = frozenset(
    name for name, spec in PROVIDER_SPECS.items() if spec.openai_compatible
)

#: Path of each mockable provider on the embedded mock upstream (its base URL there).
MOCK_PREFIXES: dict[str, str] = {
    name: spec.mock_prefix for name, spec in PROVIDER_SPECS.items() if spec.mock_prefix is not None
}

#: Headers that carry a client's credentials, by auth style (lower case).
CREDENTIAL_HEADERS = frozenset(
    {"authorization"}
    | {
        spec.auth_style
        for spec in PROVIDER_SPECS.values()
        if spec.auth_style not in ("bearer", "none")
    }
)


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
        spec: the provider's registry entry (auth style, fixed headers); ``None``: looked
            up by ``provider`` in the registry.
    """

    provider: str
    base_url: str | None
    api_key: str | None
    inject_stream_usage: bool
    mock: bool = False
    api_version: str | None = None
    spec: ProviderSpec | None = field(default=None, compare=False, repr=False)

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
        spec = self.spec or PROVIDER_SPECS.get(self.provider)
        headers = dict(spec.fixed_headers) if spec is not None else {}
        key = key if key is not None else self.api_key
        style = spec.auth_style if spec is not None else "bearer"
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
    specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS,
) -> Upstream:
    """Pick one provider's upstream from ``--upstream``, config, environment and its
    :class:`~traceforge_shared.providers.ProviderSpec` (from ``specs``, default the registry).

    Order: ``override_url``; ``upstreams.<provider>.base_url`` in config; the address in the
    spec's ``host_env`` (Ollama's ``OLLAMA_HOST``); the spec's default base URL when a key
    variable is set (none for Azure and ``openai-compatible``: they need ``base_url``);
    else the embedded mock (``mock=True``, ``base_url=None``: the caller starts it and fills
    the address in) for providers it serves. ``inject_stream_usage`` follows config when set,
    else is on where the spec says the API accepts ``stream_options.include_usage`` and the
    upstream is that API's own host or the mock.

    Raises:
        UnknownProviderError: ``provider`` is not in ``specs``.
    """
    spec = provider_spec(provider, specs)
    env = os.environ if env is None else env
    settings = config.upstreams.get(provider)
    key_envs = (
        (settings.api_key_env,) if settings is not None and settings.api_key_env else spec.key_envs
    )
    api_key = next((env[name] for name in key_envs if env.get(name)), None)
    base_url = override_url or (settings.base_url if settings else None)
    mock = False
    if base_url is None:
        host = env.get(spec.host_env) if spec.host_env else None
        if host:
            base_url = host if "://" in host else f"http://{host}"
        elif api_key:
            base_url = spec.base_url
        elif spec.mock_prefix is not None:
            mock = True
    configured = settings.inject_stream_usage if settings else None
    if configured is not None:
        inject = configured
    else:
        own_host = spec.base_url is not None and _hostname(base_url) == _hostname(spec.base_url)
        inject = spec.stream_usage and (mock or own_host)
    return Upstream(
        provider=provider,
        base_url=base_url,
        api_key=api_key,
        inject_stream_usage=inject,
        mock=mock,
        api_version=settings.api_version if settings is not None else None,
        spec=spec,
    )


def resolve_upstreams(
    config: Config,
    *,
    override_url: str | None = None,
    env: Mapping[str, str] | None = None,
    specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS,
) -> dict[str, Upstream]:
    """Every provider's upstream (see :func:`resolve_upstream`), by name in ``specs`` order;
    ``override_url`` applies to the ``openai`` upstream only."""
    return {
        provider: resolve_upstream(
            config,
            provider,
            override_url=override_url if provider == "openai" else None,
            env=env,
            specs=specs,
        )
        for provider in specs
    }


def _hostname(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None
