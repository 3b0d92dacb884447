"""``traceforge trace export``: traces to a file or stdout as JSON, JSON Lines or CSV."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import IO, Any

import click

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.filter_options import build_filter, filter_options
from traceforge_shared.store import TraceFilter, TraceStore
from traceforge_shared.store.export import EXPORT_FORMATS, Export
from traceforge_shared.store.files import write_temp


@click.command("export")
@home_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default="jsonl",
    show_default=True,
    help="json (an array of whole traces), jsonl (one trace per line) or csv (id, time, "
    "provider, model, status, latency, time to first token, tokens, cost, endpoint).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (replaced whole when the export is complete) instead of stdout.",
)
@filter_options
def export(fmt: str, output: Path | None, **filters: Any) -> None:
    """Export recorded calls as JSON, JSON Lines or CSV, newest first.

    Takes the filters of `trace list` (and --until, -q, --filter). The traces are read and
    written one at a time, so a store of any size exports in little memory. Traces are as
    stored: redacted.
    """
    trace_filter = build_filter(filters)
    store = context.store()
    if output is None:
        _write(store, fmt, trace_filter, sys.stdout.buffer)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_temp(output, b"", fsync=False, mode=0o600)
    try:
        with open(tmp, "wb") as out:
            count = _write(store, fmt, trace_filter, out)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    click.echo(f"exported {count} trace{'' if count == 1 else 's'} to {output}", err=True)


def _write(store: TraceStore, fmt: str, trace_filter: TraceFilter, out: IO[bytes]) -> int:
    """Write the export to ``out``; returns how many traces it holds."""
    export = Export(store, fmt, trace_filter)
    for piece in export:
        out.write(piece)
    out.flush()
    return export.count
