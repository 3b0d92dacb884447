"""``traceforge run``: list runs (trees of spans under one W3C trace id) and show one as an
indented tree.

A run is what an agent did for one task: its spans (agent steps, tool calls) arrive over OTLP
or from the SDK, and each LLM call made through the proxy with a ``traceparent`` header is a
span of it (docs/runs.md).
"""

from __future__ import annotations

import sys

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.commands.trace import since_option
from traceforge_cli.context import home_option
from traceforge_cli.output import (
    Cell,
    Column,
    format_option,
    print_rows,
    resolve_format,
    slow_notice,
)
from traceforge_shared.spans import SPAN_STATUSES, RunSummary
from traceforge_shared.store import RunFilter, StoreError
from traceforge_shared.views.run_view import STATUS_STYLE, cost_cell, tokens_text
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import ms_text

#: Table columns: id, name and status stay whole longest on a narrow terminal.
RUN_TABLE_COLUMNS: tuple[Column, ...] = (
    Column("Run", "run", priority=0, min_width=8),
    Column("Start", "start", priority=4, min_width=5),
    Column("Root", "root", priority=1, min_width=10),
    Column("Spans", "spans", priority=6, min_width=5, justify="right"),
    Column("LLM", "llm_calls", priority=7, min_width=3, justify="right"),
    Column("Duration", "duration", priority=3, min_width=6, justify="right"),
    Column("Tokens", "tokens", priority=5, min_width=5, justify="right"),
    Column("Cost", "cost", priority=8, min_width=5, justify="right"),
    Column("Status", "status", priority=2, min_width=5),
    Column("Session", "session", priority=9, min_width=7),
)

#: TSV columns: whole values (full run id, ISO 8601 UTC start, numbers in ms, tokens, USD).
RUN_TSV_COLUMNS: tuple[Column, ...] = tuple(
    Column(key, key, 0)
    for key in (
        "trace_id",
        "start_time",
        "name",
        "span_count",
        "llm_calls",
        "duration_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "status",
        "session_id",
    )
)


def run_table_rows(runs: list[RunSummary]) -> list[list[str | Cell]]:
    """One row per run for :data:`RUN_TABLE_COLUMNS`: the 8-character id prefix, local
    ``MM-DD HH:MM:SS`` start, durations with their unit, ``in→out`` tokens, a coloured
    status (``error (2)`` with the count of failed spans)."""
    rows: list[list[str | Cell]] = []
    for run in runs:
        status = f"error ({run.error_count})" if run.status == "error" else run.status
        rows.append(
            [
                run.trace_id[:8],
                local_time(run.start_time)[5:19],
                run.name,
                str(run.span_count),
                str(run.llm_calls),
                ms_text(run.duration_ms),
                tokens_text(run),
                cost_cell(run.cost_usd),
                Cell(status, STATUS_STYLE.get(run.status, "")),
                run.session_id or "-",
            ]
        )
    return rows


def run_tsv_rows(runs: list[RunSummary]) -> list[list[str | Cell]]:
    """One row per run for :data:`RUN_TSV_COLUMNS` (duration in ms with 1 decimal, cost in
    USD, empty when unknown)."""
    return [
        [
            run.trace_id,
            run.start_time,
            run.name,
            str(run.span_count),
            str(run.llm_calls),
            f"{run.duration_ms:.1f}",
            str(run.input_tokens),
            str(run.output_tokens),
            "" if run.cost_usd is None else f"{run.cost_usd:.6f}",
            run.status,
            run.session_id or "",
        ]
        for run in runs
    ]


def write_json(data: object) -> None:
    """Print ``data`` (builtins or msgspec structs) as indented JSON on stdout."""
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n")


def print_runs(runs: list[RunSummary], fmt: str) -> None:
    """Print ``runs`` as a table or TSV (``fmt`` ``table``/``tsv``)."""
    if fmt == "tsv":
        print_rows("tsv", RUN_TSV_COLUMNS, run_tsv_rows(runs))
    else:
        print_rows("table", RUN_TABLE_COLUMNS, run_table_rows(runs))


@click.group()
def run() -> None:
    """Agent runs: trees of spans (agent steps, tool calls, LLM calls) under one trace id."""


@run.command("list")
@home_option
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Show at most this many runs, newest first.",
)
@click.option("--session", "session_id", metavar="ID", help="Only the runs of this session.")
@click.option(
    "--since", metavar="AGE|DATE", help="Only runs started since an age (30m, 2h, 7d) or date."
)
@click.option("--status", type=click.Choice(SPAN_STATUSES), help="Only runs with this status.")
@format_option(json_help="Print JSON (an array of run summaries); same as --format json.")
def list_runs(
    limit: int,
    session_id: str | None,
    since: str | None,
    status: str | None,
    output_format: str | None,
    as_json: bool,
) -> None:
    """List runs, newest first: id, start, root span, spans, LLM calls, duration, tokens,
    cost, status and session.

    A run's status is error when any of its spans failed (the count is shown).
    """
    fmt = resolve_format(output_format, as_json)
    filters = RunFilter(
        session_id=session_id, status=status, since=since_option(since) if since else None
    )
    with slow_notice("listing runs…"):
        store = context.store()
        runs = store.spans.list_runs(filters, limit=limit)
        total = store.spans.count_runs(filters) if len(runs) == limit else len(runs)
    if fmt == "json":
        write_json(runs)
        return
    if not runs:
        filtered = any(v is not None for v in (session_id, since, status))
        click.echo(
            f"No runs in {store.home}"
            + (
                " match these filters."
                if filtered
                else ". Send a traceparent header with your LLM calls, or spans over OTLP "
                "(see docs/runs.md)."
            ),
            err=fmt == "tsv",
        )
        if fmt == "table":
            return
    print_runs(runs, fmt)
    if total > len(runs):
        click.echo(f"{len(runs)} of {total} shown; use --limit for more", err=fmt == "tsv")


@run.command("show")
@home_option
@click.argument("run_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run's tree as nested JSON.")
def show_run(run_id: str, as_json: bool) -> None:
    """Show one run as an indented tree: each span's kind, name, duration, tokens, cost and
    status, with a time bar.

    ID is a run id (32 hex digits) or any unique prefix of one (as printed by `run list`).
    Open an LLM call's whole trace with `traceforge trace show <trace>`.
    """
    from traceforge_shared.views.runs import build_tree

    store = context.store()
    try:
        spans = store.spans.get_run(run_id)
        summary = store.spans.get_run_summary(spans[0].trace_id) if spans else None
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    tree = build_tree(spans)
    if as_json:
        from traceforge_shared.views.run_view import tree_json

        write_json(tree_json(tree, summary))
        return
    from rich.console import Console

    from traceforge_cli.run_render import run_tree

    console = Console(emoji=False, highlight=False)
    console.print(run_tree(tree, summary, console.width))
