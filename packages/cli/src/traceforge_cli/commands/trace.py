"""``traceforge trace``: list and show recorded calls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click
import msgspec
from rich.console import Console

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.render import trace_detail, trace_table
from traceforge_shared.store import StoreError, TraceFilter, TraceStore
from traceforge_shared.trace import TRACE_STATUSES
from traceforge_shared.views.times import TimeParseError, parse_since

_F = TypeVar("_F", bound=Callable[..., Any])


def since_option(text: str) -> datetime:
    """Parse ``--since`` with :func:`traceforge_shared.views.times.parse_since`: an age
    (``30m``, ``2h``, ``7d``, ``1w``) or an ISO 8601 date or time, UTC when it has no offset
    (as in the web API and the TUI filter).

    Raises:
        click.BadParameter: neither form.
    """
    try:
        return parse_since(text)
    except TimeParseError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def _count_option(*decls: str, default: int, minimum: int, help: str) -> Callable[[_F], _F]:
    """A ``--limit``-like option: an integer from ``minimum``, ``default`` shown in ``--help``."""
    return click.option(
        *decls, type=click.IntRange(minimum), default=default, show_default=True, help=help
    )


def _write_json(data: bytes) -> None:
    sys.stdout.write(msgspec.json.format(data, indent=2).decode() + "\n")


def _warn_store_health(store: TraceStore) -> None:
    """One line each on stderr: new traces cannot be saved in ``store`` (read-only, full),
    or entries of ``traces/`` are skipped because they are not traces."""
    problem = store.check_writable()
    if problem is not None:
        click.echo(f"warning: new traces cannot be saved in {store.home}: {problem}", err=True)
    skipped = store.problems()
    if skipped:
        names = ", ".join(p.path.name for p in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        click.echo(
            f"warning: skipped {len(skipped)} {'entry' if len(skipped) == 1 else 'entries'} "
            f"of {store.traces_dir} (not readable traces): {names}",
            err=True,
        )


@click.group()
def trace() -> None:
    """List and inspect recorded calls (traces)."""


@trace.command("list")
@home_option
@_count_option(
    "-n", "--limit", default=20, minimum=1, help="Show at most this many traces, newest first."
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
        since=since_option(since) if since else None,
    )
    store = context.store()
    summaries = store.list(filters, limit=limit)
    _warn_store_health(store)
    if as_json:
        _write_json(msgspec.json.encode(summaries))
        return
    console = Console(emoji=False)  # nothing to replace; saves loading rich's emoji table
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
@_count_option(
    "--chunks", "chunk_limit", default=40, minimum=0, help="Chunks shown in the timeline (0: all)."
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
