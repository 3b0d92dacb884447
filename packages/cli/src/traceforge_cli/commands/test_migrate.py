"""``traceforge test migrate``: rewrite test files in other spellings (the source documents'
``id:``, ``type: jsonpath``, ``expected:``, ``response_time: {max}``, ``field:
response.content``, promptfoo's ``not-<type>``) to the canonical form, keeping comments
(:mod:`traceforge_shared.evals.migrate`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_shared.evals.loader import TestFileError, discover_tests
from traceforge_shared.evals.migrate import Migration, migrate_text
from traceforge_shared.store.files import write_atomic


@click.command("migrate")
@home_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='One JSON object per file: {"file", "changed", "changes", "written", "error"}.',
)
def migrate(paths: tuple[Path, ...], dry_run: bool, as_json: bool) -> None:
    """Rewrite the test files in PATHS (default: <home>/tests) to the canonical form.

    Files already canonical are left alone; a file that does not load is reported
    (file:line: field) and left alone. Exit status 0, or 2 when a file could not be read,
    migrated or written.
    """
    targets = list(paths) or [context.home() / "tests"]
    try:
        files = discover_tests(targets)
    except FileNotFoundError as exc:
        raise click.UsageError(f"{exc.strerror}: {exc.filename}") from exc
    console = Console()
    failed = written = 0
    any_changed = False
    for path in files:
        entry: dict[str, object] = {"file": str(path.absolute()), "changed": False}
        try:
            migration = migrate_text(path.read_text(encoding="utf-8"), path)
            entry.update(changed=migration.changed, changes=migration.changes)
            any_changed = any_changed or migration.changed
            if migration.changed and not dry_run:
                write_atomic(path, migration.text.encode("utf-8"), fsync=True)
                written += 1
            entry["written"] = migration.changed and not dry_run
        except TestFileError as exc:
            failed += 1
            entry.update(error=str(exc), written=False)
        except (OSError, UnicodeDecodeError) as exc:
            failed += 1
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            entry.update(error=f"{path}: cannot read or write: {reason}", written=False)
        if as_json:
            sys.stdout.write(json.dumps(entry, ensure_ascii=False) + "\n")
        else:
            _say(console, path, entry, dry_run)
    if not as_json:
        if written:
            console.print(f"migrated {written} file{'s' if written != 1 else ''}")
        elif not failed and not any_changed:
            console.print("every test file is already canonical")
    raise SystemExit(2 if failed else 0)


def _say(console: Console, path: Path, entry: dict[str, object], dry_run: bool) -> None:
    if "error" in entry:
        console.print(f"[red]cannot migrate[/] {escape(str(entry['error']))}")
        return
    if not entry["changed"]:
        return
    verb = "would rewrite" if dry_run else "rewrote"
    console.print(f"{verb} [bold]{escape(str(path))}[/]:")
    changes = entry.get("changes")
    for change in changes if isinstance(changes, list) else []:
        console.print(f"  {escape(str(change))}")


__all__ = ["Migration", "migrate"]
