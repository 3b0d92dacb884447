"""``traceforge redact``: audit files and stores for unredacted secrets and PII."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.progress import track

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.output import Column, format_option, print_rows, resolve_format
from traceforge_shared.redact import KINDS, Redactor
from traceforge_shared.redact.scan import Leak, iter_files, scan_file


def _shown(file: str) -> str:
    """``file`` relative to the working directory when it is below it (shorter tables)."""
    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file


@click.group()
def redact() -> None:
    """Check traces and other files for secrets and PII that were not redacted."""


@redact.command("check")
@home_option
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--secrets-only",
    is_flag=True,
    help="Only credentials (API keys, bearer tokens, JWTs, private keys), not PII.",
)
@format_option(json_help="Print findings as a JSON array; same as --format json.")
def check(
    paths: tuple[Path, ...], secrets_only: bool, output_format: str | None, as_json: bool
) -> None:
    """Scan PATHS (default: the trace store) for unredacted secrets and PII.

    Trace files are checked the way the proxy redacts (so a secret split across stream chunks
    is found); other files line by line. Exit status 1 when anything is found, so it can gate
    CI or a hook. Findings give file, place and kind, never the value. Uses the redaction
    settings (kinds, allowlist, custom patterns) of config.yaml.
    """
    fmt = resolve_format(output_format, as_json)
    config = context.config()
    redactor = Redactor(config.redaction, only_secrets=secrets_only)
    targets = list(paths) or [context.store().traces_dir]
    files = [f for f in iter_files(p for p in targets if p.exists())]
    err = Console(stderr=True)
    leaks: list[Leak] = []
    unreadable: list[str] = []
    for path in track(
        files,
        description="Scanning",
        console=err,
        transient=True,
        disable=len(files) < 200 or not err.is_terminal,
    ):
        try:
            leaks.extend(scan_file(redactor, path))
        except OSError as exc:
            unreadable.append(f"{path}: {exc.strerror}")
    for message in unreadable:
        err.print(f"[yellow]skipped[/] {message}")
    if fmt == "json":
        sys.stdout.write(
            msgspec.json.encode(
                [{"file": x.file, "where": x.where, "kind": x.kind} for x in leaks]
            ).decode()
            + "\n"
        )
    elif leaks:
        columns = (
            Column("File", "file", priority=0, min_width=12),
            Column("Where", "where", priority=1, min_width=8),
            Column("Kind", "kind", priority=2, min_width=6),
        )
        print_rows(fmt, columns, [[_shown(x.file), x.where, x.kind] for x in leaks])
        console = Console(stderr=fmt == "tsv")  # in a pipe, stdout holds only the rows
        console.print(
            f"[red]{len(leaks)} unredacted value(s)[/] in "
            f"{len({x.file for x in leaks})} of {len(files)} file(s)"
        )
    else:
        kinds = ", ".join(k for k in KINDS if config.redaction.kinds.get(k, True))
        Console().print(
            f"[green]No unredacted secrets or PII[/] in {len(files)} file(s) (kinds: {kinds})"
        )
    if leaks:
        raise SystemExit(1)
