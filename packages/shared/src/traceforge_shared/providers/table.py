"""The provider table of ``docs/providers.md``, generated from the registry."""

from __future__ import annotations

from collections.abc import Mapping

from traceforge_shared.providers.registry import PROVIDER_SPECS
from traceforge_shared.providers.spec import ProviderSpec

#: Columns of :func:`providers_markdown_table`.
TABLE_COLUMNS = (
    "provider",
    "models routed by default",
    "default base URL",
    "key variables",
    "auth",
    "native route",
    "wire format",
    "stream usage",
    "gen_ai.provider.name",
)

_AUTH_LABELS = {"bearer": "`Authorization: Bearer`", "none": "none"}


def _code(values: tuple[str, ...]) -> str:
    return " ".join(f"`{value}`" for value in values)


def _table_row(spec: ProviderSpec) -> tuple[str, ...]:
    if spec.wire_format != "openai":
        usage = "always sent"
    else:
        usage = "asked for" if spec.stream_usage else "if the client asks"
    return (
        spec.name,
        _code(spec.model_globs) or "none",
        f"`{spec.base_url}`" if spec.base_url else f"set `upstreams.{spec.name}.base_url`",
        " or ".join(f"`{name}`" for name in spec.key_envs) or "none",
        _AUTH_LABELS.get(spec.auth_style, f"`{spec.auth_style}`"),
        f"`{spec.native_route}`",
        spec.wire_format,
        usage,
        f"`{spec.otel_name}`",
    )


def providers_markdown_table(specs: Mapping[str, ProviderSpec] = PROVIDER_SPECS) -> str:
    """The provider table of ``docs/providers.md``: a GitHub Markdown table, one row per spec
    in registry order, columns :data:`TABLE_COLUMNS`, ending with a newline."""
    rows = [TABLE_COLUMNS, tuple("---" for _ in TABLE_COLUMNS)]
    rows += [_table_row(spec) for spec in specs.values()]
    return "".join("| " + " | ".join(row) + " |\n" for row in rows)
