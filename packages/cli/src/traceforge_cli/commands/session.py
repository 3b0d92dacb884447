"""``traceforge session``: sessions (the runs of one conversation or user, grouped by the
``X-TraceForge-Session-Id`` header or the spans' session id) and their totals."""

from __future__ import annotations

import click

from traceforge_cli import context
from traceforge_cli.commands.run import print_runs, write_json
from traceforge_cli.commands.trace import since_option
from traceforge_cli.context import home_option
from traceforge_cli.output import Cell, Column, format_option, print_rows, resolve_format
from traceforge_shared.spans import SessionSummary
from traceforge_shared.store import SessionNotFoundError
from traceforge_shared.views.run_view import cost_cell, session_totals, tokens_text
from traceforge_shared.views.times import local_time

#: Table columns of ``session list``.
SESSION_TABLE_COLUMNS: tuple[Column, ...] = (
    Column("Session", "session", priority=0, min_width=10),
    Column("Runs", "runs", priority=2, min_width=4, justify="right"),
    Column("LLM", "llm_calls", priority=4, min_width=3, justify="right"),
    Column("Tokens", "tokens", priority=3, min_width=5, justify="right"),
    Column("Cost", "cost", priority=5, min_width=5, justify="right"),
    Column("Errors", "errors", priority=1, min_width=6, justify="right"),
    Column("First", "first", priority=7, min_width=5),
    Column("Last", "last", priority=6, min_width=5),
)

#: TSV columns of ``session list``: whole values.
SESSION_TSV_COLUMNS: tuple[Column, ...] = tuple(
    Column(key, key, 0)
    for key in (
        "session_id",
        "runs",
        "calls",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "errors",
        "first_time",
        "last_time",
    )
)


def _table_rows(sessions: list[SessionSummary]) -> list[list[str | Cell]]:
    return [
        [
            s.session_id,
            str(s.runs),
            str(s.calls),
            tokens_text(s),
            cost_cell(s.cost_usd),
            Cell(str(s.errors), "red") if s.errors else "0",
            local_time(s.first_time)[5:19],
            local_time(s.last_time)[5:19],
        ]
        for s in sessions
    ]


def _tsv_rows(sessions: list[SessionSummary]) -> list[list[str | Cell]]:
    return [
        [
            s.session_id,
            str(s.runs),
            str(s.calls),
            str(s.input_tokens),
            str(s.output_tokens),
            "" if s.cost_usd is None else f"{s.cost_usd:.6f}",
            str(s.errors),
            s.first_time,
            s.last_time,
        ]
        for s in sessions
    ]


@click.group()
def session() -> None:
    """Sessions: the runs of one conversation or user, with their totals."""


@session.command("list")
@home_option
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Show at most this many sessions, latest activity first.",
)
@click.option(
    "--since", metavar="AGE|DATE", help="Only sessions with a run since an age (2h, 7d) or date."
)
@format_option(json_help="Print JSON (an array of session summaries); same as --format json.")
def list_sessions(limit: int, since: str | None, output_format: str | None, as_json: bool) -> None:
    """List sessions, latest activity first: runs, LLM calls, tokens, cost, failed spans,
    first and last activity."""
    fmt = resolve_format(output_format, as_json)
    store = context.store()
    sessions = store.spans.list_sessions(limit=limit, since=since_option(since) if since else None)
    if fmt == "json":
        write_json(sessions)
        return
    if not sessions:
        click.echo(
            f"No sessions in {store.home}. Send X-TraceForge-Session-Id with your calls "
            "(see docs/runs.md).",
            err=fmt == "tsv",
        )
        if fmt == "table":
            return
    if fmt == "tsv":
        print_rows("tsv", SESSION_TSV_COLUMNS, _tsv_rows(sessions))
    else:
        print_rows("table", SESSION_TABLE_COLUMNS, _table_rows(sessions))


@session.command("show")
@home_option
@click.argument("session_id", metavar="ID")
@format_option(json_help='Print JSON ({"session": totals, "runs": [...]}).')
def show_session(session_id: str, output_format: str | None, as_json: bool) -> None:
    """Show one session: its totals, then its runs, oldest first (as `run list` shows them;
    `run show` opens one).

    ID is the session id exactly as the app sent it.
    """
    fmt = resolve_format(output_format, as_json)
    try:
        runs = context.store().spans.get_session(session_id)
    except SessionNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    totals = session_totals(session_id, runs)
    if fmt == "json":
        write_json({"session": totals, "runs": runs})
        return
    if fmt == "table":
        click.echo(
            f"Session {session_id}: {totals.runs} runs · {totals.calls} LLM calls · "
            f"tokens {tokens_text(totals)} · cost {cost_cell(totals.cost_usd)} · "
            f"{totals.errors} failed spans · {local_time(totals.first_time)} → "
            f"{local_time(totals.last_time)}\n"
        )
    print_runs(runs, fmt)
