"""``traceforge cassette``: list, show, prune and diff the cassettes the proxy records and
replays (``<home>/cassettes/<name>/``, docs/replay.md).

- ``list``: each cassette's interactions, size, last recording, providers, and how many
  recordings the last replay run left unused.
- ``show NAME [INTERACTION]``: the interactions summarized (or one in detail); ``--json``.
- ``prune NAME...|--all``: remove the interactions the last replay run did not use (read from
  the cassette's ``.last-replay.json``, written when a replaying proxy stops);
  ``--dry-run``, ``--yes``.
- ``diff A B``: the drift from cassette (or cassette directory) A to B per request:
  identical, benign, regression; exit status 0, 1 or 2
  (:mod:`traceforge_shared.cassettes.drift`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.commands.run import write_json
from traceforge_cli.context import home_option
from traceforge_cli.drift_render import print_drift
from traceforge_cli.output import Cell, Column, format_option, print_rows, resolve_format
from traceforge_shared.cassettes import (
    CASSETTES_DIRNAME,
    Cassette,
    CassetteError,
    Interaction,
    list_cassettes,
)
from traceforge_shared.cassettes.answer import AnswerSummary, summarize
from traceforge_shared.cassettes.drift import drift_report
from traceforge_shared.cassettes.usage import read_usage
from traceforge_shared.views.times import local_time

LIST_COLUMNS: tuple[Column, ...] = (
    Column("Cassette", "name", priority=0, min_width=10),
    Column("Interactions", "interactions", priority=1, min_width=4, justify="right"),
    Column("Size", "size_bytes", priority=3, min_width=5, justify="right"),
    Column("Last recorded", "last_recorded", priority=4, min_width=10),
    Column("Providers", "providers", priority=2, min_width=6),
    Column("Unused", "unused", priority=5, min_width=4, justify="right"),
)
SHOW_COLUMNS: tuple[Column, ...] = (
    Column("Seq", "seq", priority=0, min_width=3, justify="right"),
    Column("Provider", "provider", priority=2, min_width=6),
    Column("Model", "model", priority=1, min_width=8),
    Column("Endpoint", "endpoint", priority=3, min_width=8),
    Column("Status", "status", priority=1, min_width=3, justify="right"),
    Column("Reads", "reads", priority=5, min_width=3, justify="right"),
    Column("Answer", "answer", priority=2, min_width=10),
    Column("File", "file", priority=6, min_width=8),
)

dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A cassettes directory to use instead of <home>/cassettes (it must be named "
    "'cassettes', as the pytest plugin's are: tests/cassettes).",
)


def cassette_home(directory: Path | None) -> Path:
    """The TraceForge home whose ``cassettes`` directory is ``directory`` (default: the
    chosen home).

    Raises:
        click.UsageError: ``directory`` is not named ``cassettes``.
    """
    if directory is None:
        return context.home()
    if directory.name != CASSETTES_DIRNAME:
        raise click.UsageError(
            f"--dir {directory}: a cassettes directory is named '{CASSETTES_DIRNAME}'"
        )
    return directory.parent


def open_cassette(name: str, home: Path) -> Cassette:
    """The cassette ``name`` under ``home``: a name, or a path to a cassette directory
    (holding ``*.yaml`` interactions).

    Raises:
        click.ClickException: no such cassette (the message lists where it looked).
    """
    as_path = Path(name)
    if as_path.is_dir() and any(as_path.glob("*.yaml")):
        cassette = Cassette(as_path.name, as_path.parent)
        cassette.path = as_path  # a directory given by path, wherever it is
        return cassette
    try:
        cassette = Cassette(name, home)
    except CassetteError as exc:
        raise click.ClickException(exc.reason) from exc
    if not cassette.files():
        raise click.ClickException(
            f"no cassette {name!r} in {cassette.path.parent} (traceforge cassette list)"
        )
    return cassette


def answer_text(summary: AnswerSummary, width: int = 60) -> str:
    """One line for an answer: its tool calls (``get_weather(city, state)``) or its text,
    then the finish reason."""
    if summary.tool_calls:
        text = ", ".join(f"{c.name}({', '.join(c.argument_keys)})" for c in summary.tool_calls)
    else:
        text = " ".join(summary.text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"{text} [{summary.finish_reason}]" if summary.finish_reason else text


@click.group()
def cassette() -> None:
    """Cassettes of recorded calls: list, show, prune unused recordings, diff re-recordings."""


@cassette.command("list")
@home_option
@dir_option
@format_option(json_help="Print JSON (an array of cassettes); same as --format json.")
def list_command(directory: Path | None, output_format: str | None, as_json: bool) -> None:
    """List cassettes: interactions, size, last recording, providers, and recordings the
    last replay run left unused."""
    fmt = resolve_format(output_format, as_json)
    home = cassette_home(directory)
    rows = [_list_entry(Cassette(name, home)) for name in list_cassettes(home)]
    if fmt == "json":
        write_json(rows)
        return
    if not rows:
        click.echo(f"No cassettes in {home / CASSETTES_DIRNAME}.", err=fmt == "tsv")
        if fmt == "table":
            return
    cells: list[list[str | Cell]] = [
        [
            r["name"],
            str(r["interactions"]),
            _size(r["size_bytes"]) if fmt == "table" else str(r["size_bytes"]),
            local_time(r["last_recorded"]) if r["last_recorded"] else "-",
            " ".join(r["providers"]),
            "-" if r["unused"] is None else str(r["unused"]),
        ]
        for r in rows
    ]
    print_rows(fmt, LIST_COLUMNS, cells)


def _list_entry(cassette: Cassette) -> dict[str, Any]:
    loaded = cassette.interactions()
    usage = read_usage(cassette)
    present = {path.name for path, _ in loaded}
    return {
        "name": cassette.name,
        "path": str(cassette.path),
        "interactions": len(loaded),
        "size_bytes": sum(path.stat().st_size for path, _ in loaded),
        "last_recorded": max((i.recorded_at for _, i in loaded), default=None),
        "providers": sorted({i.request.provider for _, i in loaded}),
        "unused": None if usage is None else len([n for n in usage.unused if n in present]),
    }


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"


@cassette.command("show")
@home_option
@dir_option
@click.argument("name")
@click.argument("interaction", required=False)
@format_option(json_help="Print JSON (the interactions, each with its answer summary).")
def show_command(
    directory: Path | None,
    name: str,
    interaction: str | None,
    output_format: str | None,
    as_json: bool,
) -> None:
    """Show a cassette's interactions (requests and answers summarized), or one of them.

    NAME is a cassette name (or a cassette directory's path); INTERACTION a sequence number
    or a file name.
    """
    fmt = resolve_format(output_format, as_json)
    chosen = open_cassette(name, cassette_home(directory))
    loaded = chosen.interactions()
    if interaction is not None:
        loaded = [_pick(loaded, interaction, chosen)]
    if fmt == "json":
        write_json([_interaction_json(path, i) for path, i in loaded])
        return
    if interaction is not None:
        _print_detail(*loaded[0])
        return
    rows: list[list[str | Cell]] = []
    for path, item in loaded:
        summary = summarize(item)
        response = item.response
        rows.append(
            [
                str(item.seq),
                item.request.provider,
                item.request.model or "-",
                f"{item.request.method} {item.request.endpoint}",
                Cell(str(response.status), "" if response.status < 400 else "red"),
                str(len(response.reads)) if response.stream else "-",
                answer_text(summary),
                path.name,
            ]
        )
    print_rows(fmt, SHOW_COLUMNS, rows)


def _pick(
    loaded: list[tuple[Path, Interaction]], wanted: str, chosen: Cassette
) -> tuple[Path, Interaction]:
    for path, item in loaded:
        if wanted in (path.name, path.stem) or (wanted.isdigit() and int(wanted) == item.seq):
            return path, item
    raise click.ClickException(
        f"no interaction {wanted!r} in cassette {chosen.name!r} ({len(loaded)} interactions: "
        "give a sequence number or a file name)"
    )


def _interaction_json(path: Path, item: Interaction) -> dict[str, Any]:
    summary = summarize(item)
    return {
        "file": path.name,
        **msgspec.to_builtins(item),
        "answer": {
            "text": summary.text,
            "tool_calls": [{"name": c.name, "arguments": c.arguments} for c in summary.tool_calls],
            "finish_reason": summary.finish_reason,
        },
    }


def _print_detail(path: Path, item: Interaction) -> None:
    from rich.console import Console
    from rich.syntax import Syntax

    console = Console(emoji=False, highlight=False)
    request, response = item.request, item.response
    summary = summarize(item)
    console.print(f"[bold]{path.name}[/]  recorded {item.recorded_at}  trace {item.trace_id}")
    console.print(
        f"request:  {request.method} {request.endpoint}  provider {request.provider}  model "
        f"{request.model or '-'}  route {request.route}  upstream {request.upstream_path}",
        markup=False,
    )
    body = request.body if request.body is not None else request.body_text
    text = msgspec.json.format(msgspec.json.encode(body), indent=2).decode()
    console.print(Syntax(text, "json", word_wrap=True))
    kind = f"stream, {len(response.reads)} reads" if response.stream else "JSON"
    console.print(
        f"response: {response.status} ({kind}), headers after {response.headers_ms:.1f} ms, "
        f"end at {response.end_ms:.1f} ms",
        markup=False,
    )
    for header, value in response.headers:
        console.print(f"  {header}: {value}", markup=False)
    console.print(f"answer:   {summary.text or '-'}", markup=False)
    for call in summary.tool_calls:
        console.print(f"tool call: {call.name} {call.arguments_text}", markup=False)
    console.print(f"finish reason: {summary.finish_reason or '-'}", markup=False)


@cassette.command("prune")
@home_option
@dir_option
@click.argument("names", nargs=-1)
@click.option("--all", "all_cassettes", is_flag=True, help="Every cassette.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--yes", "-y", is_flag=True, help="Remove without asking.")
def prune_command(
    directory: Path | None,
    names: tuple[str, ...],
    all_cassettes: bool,
    dry_run: bool,
    yes: bool,
) -> None:
    """Remove the recordings the last replay run did not use.

    The proxy notes which recordings a replay run used (.last-replay.json in the cassette,
    written by `traceforge start --mode replay` and the pytest plugin when they stop); run
    your whole suite in replay mode first.
    """
    home = cassette_home(directory)
    if all_cassettes == bool(names):
        raise click.UsageError("give cassette NAMES or --all (not both)")
    chosen = [open_cassette(n, home) for n in names] or [
        Cassette(n, home) for n in list_cassettes(home)
    ]
    doomed: list[Path] = []
    for item in chosen:
        usage = read_usage(item)
        if usage is None:
            message = f"{item.name}: no replay run recorded (run it with --mode replay first)"
            if not all_cassettes:
                raise click.ClickException(message)
            click.echo(f"skipped {message}", err=True)
            continue
        if usage.misses:
            click.echo(
                f"warning: {item.name}: the last replay run had {usage.misses} miss(es); "
                "its unused recordings may be the old versions of changed requests",
                err=True,
            )
        present = {path.name: path for path in item.files()}
        doomed += [present[n] for n in usage.unused if n in present]
    if not doomed:
        click.echo("Nothing to prune: every recording was used by the last replay run.")
        return
    for path in doomed:
        click.echo(f"{'would remove' if dry_run else 'remove'} {path}")
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not a terminal: pass --yes to remove, or --dry-run")
        click.confirm(f"Remove {len(doomed)} recording(s)?", abort=True)
    for path in doomed:
        path.unlink(missing_ok=True)
    click.echo(f"Removed {len(doomed)} recording(s).")


@cassette.command("diff")
@home_option
@dir_option
@click.argument("before")
@click.argument("after")
@click.option(
    "--ignore-field",
    "ignore_fields",
    metavar="PATH",
    multiple=True,
    help="Request body field not matched when pairing requests (repeatable).",
)
@format_option(json_help="Print JSON ({entries, counts, exit_code}).")
def diff_command(
    directory: Path | None,
    before: str,
    after: str,
    ignore_fields: tuple[str, ...],
    output_format: str | None,
    as_json: bool,
) -> None:
    """Compare two recordings of the same requests: per request identical, benign (reworded)
    or regression (tool calls, finish reason, JSON keys or length changed); exit status 0
    all identical, 1 benign only, 2 any regression.

    BEFORE and AFTER are cassette names or cassette directories (e.g. a re-recording made
    with --cassette NAME.new, or a checkout of the committed cassette).
    """
    fmt = resolve_format(output_format, as_json)
    home = cassette_home(directory)
    sides = [open_cassette(n, home) for n in (before, after)]
    loaded = [[(f"{c.name}/{p.name}", i) for p, i in c.interactions()] for c in sides]
    ignore = (*context.config().replay.ignore_fields, *ignore_fields)
    report = drift_report(loaded[0], loaded[1], ignore)
    if fmt == "json":
        write_json(report.to_json())
    else:
        print_drift(fmt, report)
    sys.exit(report.exit_code)
