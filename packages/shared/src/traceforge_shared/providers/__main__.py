"""``python -m traceforge_shared.providers``: print the provider table of ``docs/providers.md``."""

from traceforge_shared.providers.table import providers_markdown_table

print(providers_markdown_table(), end="")
