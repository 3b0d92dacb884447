"""The provider registry: everything TraceForge knows about each LLM provider, in one place.

One :class:`ProviderSpec` per provider, in :data:`PROVIDER_SPECS` (a stable order: the order
in which the front door tries model globs). Routing, upstream resolution, the adapters, the
embedded mock, cost and the provider table of ``docs/providers.md`` all read it. Adding an
OpenAI-compatible provider is one entry; a provider with a new wire format also needs an
adapter in ``traceforge_proxy.providers`` named after the format.

``python -m traceforge_shared.providers`` prints the Markdown table of ``docs/providers.md``.
"""

from __future__ import annotations

from traceforge_shared.providers.registry import (
    PROVIDER_SPECS,
    UnknownProviderError,
    provider_names,
    provider_spec,
)
from traceforge_shared.providers.spec import AuthStyle, ProviderSpec, WireFormat
from traceforge_shared.providers.table import TABLE_COLUMNS, providers_markdown_table

__all__ = [
    "PROVIDER_SPECS",
    "TABLE_COLUMNS",
    "AuthStyle",
    "ProviderSpec",
    "UnknownProviderError",
    "WireFormat",
    "provider_names",
    "provider_spec",
    "providers_markdown_table",
]
