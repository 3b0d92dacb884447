"""``traceforge redact``: audit files and stores for unredacted secrets and PII."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.progress import track
from rich.table import Table

from traceforge_cli import context
from traceforge_cli.context import home_option
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
@click.option("--json", "as_json", is_flag=True, help="Print findings as a JSON array.")
def check(paths: tuple[Path, ...], secrets_only: bool, as_json: bool) -> None:
    """Scan PATHS (default: the trace store) for unredacted secrets and PII.

    Trace files are checked the way the proxy redacts (so a secret split across stream chunks
    is found); other files line by line. Exit status 1 when anything is found, so it can gate
    CI or a hook. Findings give file, place and kind, never the value. Uses the redaction
    settings (kinds, allowlist, custom patterns) of config.yaml.
    """
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
    if as_json:
        sys.stdout.write(
            msgspec.json.encode(
                [{"file": x.file, "where": x.where, "kind": x.kind} for x in leaks]
            ).decode()
            + "\n"
        )
    elif leaks:
        table = Table(box=None, header_style="bold underline", pad_edge=False)
        for column in ("File", "Where", "Kind"):
            table.add_column(column, overflow="fold")
        for leak in leaks:
            table.add_row(_shown(leak.file), leak.where, leak.kind)
        console = Console()
        console.print(table)
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
