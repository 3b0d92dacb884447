"""``traceforge lsp``: the language server of test files, for any LSP editor."""

from __future__ import annotations

import click

from traceforge_cli import context
from traceforge_cli.context import home_option


@click.command("lsp")
@home_option
@click.option(
    "--stdio",
    is_flag=True,
    help="Talk LSP over stdin/stdout (the default; accepted because many editors pass it).",
)
def lsp(stdio: bool) -> None:
    """Language server for test files (diagnostics, completion, hover, CodeLens, run) over stdio.

    Serves YAML files under a tests/ folder: diagnostics while typing (YAML, schema, unknown
    assertion types with a did-you-mean, bad regexes and JSON Schemas, a source_trace not in
    the store), completion of assertion types, fields, models and trace ids, hover docs,
    CodeLens (Run test, Replay, Open source trace), go to definition of source_trace and the
    command traceforge.runTest. Traces come from --home, $TRACEFORGE_HOME or the workspace's
    .ai-tests.
    """
    from traceforge_cli.lsp import create_server

    ctx = click.get_current_context()
    explicit = ctx.meta.get("traceforge.home")
    create_server(context.home() if explicit is not None else None).start_io()
