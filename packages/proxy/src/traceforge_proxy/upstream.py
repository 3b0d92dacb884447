"""Choosing the upstream a request goes to, and its credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from traceforge_shared.config import OPENAI_BASE_URL, Config

#: Hosts known to accept ``stream_options.include_usage`` on chat completion streams.
USAGE_OPTION_HOSTS = frozenset({"api.openai.com"})


@dataclass(frozen=True)
class Upstream:
    """Where requests are forwarded.

    Attributes:
        provider: provider name recorded in traces (``openai``).
        base_url: API base including the version path, e.g. ``https://api.openai.com/v1``.
            ``None`` until the embedded mock upstream's address is known.
        api_key: key sent as ``Authorization: Bearer`` when the client sends none.
        inject_stream_usage: ask for usage on streams whose client did not.
        mock: whether this is TraceForge's embedded mock upstream.
    """

    provider: str
    base_url: str | None
    api_key: str | None
    inject_stream_usage: bool
    mock: bool = False

    def url_for(self, tail: str, query: str) -> str:
        """Return the upstream URL for a proxy path below ``/v1/``."""
        assert self.base_url is not None, "mock upstream not started"
        url = f"{self.base_url.rstrip('/')}/{tail}"
        return f"{url}?{query}" if query else url


def resolve_upstream(
    config: Config, *, override_url: str | None = None, env: Mapping[str, str] | None = None
) -> Upstream:
    """Pick the OpenAI-compatible upstream from ``--upstream``, config and environment.

    Order: ``override_url``; ``upstreams.openai.base_url`` in config; the real OpenAI API when
    the configured key variable (default ``OPENAI_API_KEY``) is set; else the embedded mock
    (``mock=True``, ``base_url=None``: the caller starts it and fills the address in).
    ``inject_stream_usage`` follows config when set, else is on for OpenAI and the mock only.
    """
    env = os.environ if env is None else env
    settings = config.upstreams.get("openai")
    key_env = settings.api_key_env if settings else "OPENAI_API_KEY"
    api_key = env.get(key_env) if key_env else None
    base_url = override_url or (settings.base_url if settings else None)
    mock = False
    if base_url is None:
        if api_key:
            base_url = OPENAI_BASE_URL
        else:
            mock = True
    configured = settings.inject_stream_usage if settings else None
    if configured is not None:
        inject = configured
    else:
        inject = mock or urlsplit(base_url or "").hostname in USAGE_OPTION_HOSTS
    return Upstream(
        provider="openai",
        base_url=base_url,
        api_key=api_key or None,
        inject_stream_usage=inject,
        mock=mock,
    )
