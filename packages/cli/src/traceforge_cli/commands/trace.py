"""``traceforge trace``: list and show recorded calls."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta

import click
import msgspec
from rich.console import Console

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.render import trace_detail, trace_table
from traceforge_shared.store import StoreError, TraceFilter
from traceforge_shared.trace import TRACE_STATUSES

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Parse ``--since``: a relative age (``30m``, ``2h``, ``7d``, ``1w``) or an ISO 8601 date
    or time (``2026-11-23``, ``2026-11-23T08:00``; naive times are local).

    Raises:
        click.BadParameter: neither form.
    """
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an age like 30m, 2h, 7d nor an ISO date like 2026-11-23",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def _write_json(data: bytes) -> None:
    sys.stdout.write(msgspec.json.format(data, indent=2).decode() + "\n")


@click.group()
def trace() -> None:
    """List and inspect recorded calls (traces)."""


@trace.command("list")
@home_option
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Show at most this many traces, newest first.",
)
@click.option("--model", help="Only this model (exact name).")
@click.option("--provider", help="Only this provider (openai, ...).")
@click.option("--status", type=click.Choice(TRACE_STATUSES), help="Only this outcome.")
@click.option(
    "--stream/--no-stream",
    "streaming",
    default=None,
    help="Only streamed / only non-streamed calls.",
)
@click.option(
    "--since",
    metavar="AGE|DATE",
    help="Only calls since an age (30m, 2h, 7d) or date (2026-11-23).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (an array of summaries).")
def list_traces(
    limit: int,
    model: str | None,
    provider: str | None,
    status: str | None,
    streaming: bool | None,
    since: str | None,
    as_json: bool,
) -> None:
    """List recorded calls, newest first."""
    filters = TraceFilter(
        model=model,
        provider=provider,
        status=status,
        streaming=streaming,
        since=parse_since(since) if since else None,
    )
    store = context.store()
    summaries = store.list(filters, limit=limit)
    if as_json:
        _write_json(msgspec.json.encode(summaries))
        return
    console = Console()
    if not summaries:
        console.print(
            f"No traces in {store.traces_dir}"
            + (
                " match these filters."
                if any(v is not None for v in (model, provider, status, streaming, since))
                else ". Point your SDK at `traceforge start`, or run `traceforge demo`."
            )
        )
        return
    console.print(trace_table(summaries))
    total = store.count(filters)
    if total > len(summaries):
        console.print(f"[dim]{len(summaries)} of {total} shown; use --limit for more[/]")


@trace.command("show")
@home_option
@click.argument("trace_id", metavar="ID")
@click.option(
    "--chunks",
    "chunk_limit",
    type=click.IntRange(0),
    default=40,
    show_default=True,
    help="Chunks shown in the timeline (0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole trace as JSON.")
def show_trace(trace_id: str, chunk_limit: int, as_json: bool) -> None:
    """Show one call: request, response, metadata and, for streams, the chunk timeline.

    ID is a trace id or any unique prefix of one (as printed by `trace list`).
    """
    try:
        found = context.store().get(trace_id)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _write_json(msgspec.json.encode(found))
        return
    Console().print(trace_detail(found, chunk_limit=chunk_limit or None))
