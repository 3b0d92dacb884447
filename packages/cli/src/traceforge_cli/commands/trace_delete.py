"""``traceforge trace delete``: delete recorded calls by id, by filter or by age."""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.filter_options import build_filter, filter_options, is_filtered
from traceforge_shared.store import StoreError, TraceFilter, TraceStore
from traceforge_shared.trace import TraceSummary
from traceforge_shared.views.times import TimeParseError, parse_since

#: Traces listed before the confirmation question (the rest are counted).
SHOWN = 10


class DeleteResult(msgspec.Struct, kw_only=True):
    """What ``trace delete --json`` prints.

    Attributes:
        deleted: how many traces were deleted (0 with ``--dry-run``).
        matched: how many traces the ids and filters selected.
        dry_run: whether nothing was deleted on purpose.
        ids: the selected ids, newest first.
    """

    deleted: int
    matched: int
    dry_run: bool
    ids: list[str]


def _older_than(text: str) -> Any:
    try:
        return parse_since(text)
    except TimeParseError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None


def _selected(
    store: TraceStore, ids: tuple[str, ...], trace_filter: TraceFilter, filtered: bool
) -> list[TraceSummary]:
    """The summaries of the traces to delete, newest first: those of ``ids`` (full or unique
    prefixes) that match the filters, or every trace matching the filters."""
    if not ids:
        return list(store.iter_summaries(trace_filter)) if filtered else []
    wanted: set[str] = set()
    for given in ids:
        try:
            wanted.add(store.resolve_id(given))
        except StoreError as exc:
            raise click.BadParameter(str(exc), param_hint="ID") from None
    return [s for s in store.iter_summaries(trace_filter) if s.id in wanted]


@click.command("delete")
@home_option
@click.argument("ids", nargs=-1, metavar="[ID]...")
@filter_options
@click.option(
    "--older-than",
    metavar="AGE|DATE",
    help="Only calls older than an age (30d, 12h) or before a date (2026-11-01, UTC).",
)
@click.option("--all", "everything", is_flag=True, help="Select every trace (with no filter).")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def delete(
    ids: tuple[str, ...],
    older_than: str | None,
    everything: bool,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    **filters: Any,
) -> None:
    """Delete recorded calls: by id (or unique prefix), by the filters of `trace list`, or by
    age (--older-than 30d).

    Shows what will be deleted and asks before deleting, unless --yes; --dry-run only shows.
    The trace files and their index rows are deleted together. Selecting by filter or id is
    required; --all selects every trace.
    """
    trace_filter = build_filter(filters)
    if older_than is not None:
        cutoff = _older_than(older_than)
        if trace_filter.until is None or trace_filter.until > cutoff:
            trace_filter.until = cutoff
    filtered = is_filtered(filters) or older_than is not None
    if not (ids or filtered or everything):
        raise click.UsageError("say what to delete: trace ids, filters, --older-than or --all")
    if everything and (ids or filtered):
        raise click.UsageError("--all selects every trace: give it without ids or filters")
    store = context.store()
    chosen = _selected(store, ids, trace_filter, filtered or everything)
    result = DeleteResult(
        deleted=0, matched=len(chosen), dry_run=dry_run, ids=[s.id for s in chosen]
    )
    if not chosen:
        _report(result, as_json, "No traces match; nothing deleted.")
        return
    if not as_json or not yes:
        _preview(chosen, dry_run=dry_run)
    if dry_run:
        _report(result, as_json, f"Dry run: {_count(len(chosen))} would be deleted.")
        return
    if not yes:  # no answer (stdin closed) or "n": click.Abort, exit 1, nothing deleted
        click.confirm(f"Delete {_count(len(chosen))}?", abort=True, err=True)
    result.deleted = store.delete_many(result.ids)
    _report(result, as_json, f"Deleted {_count(result.deleted)}.")


def _count(n: int) -> str:
    return f"{n:,} trace{'' if n == 1 else 's'}"


def _preview(chosen: list[TraceSummary], *, dry_run: bool) -> None:
    """List the first :data:`SHOWN` selected traces on stderr, and how many more."""
    verb = "would be deleted" if dry_run else "will be deleted"
    click.echo(f"{_count(len(chosen))} {verb}:", err=True)
    for s in chosen[:SHOWN]:
        click.echo(
            f"  {s.id}  {s.timestamp[:19].replace('T', ' ')}  {s.model}  {s.status}", err=True
        )
    if len(chosen) > SHOWN:
        click.echo(f"  ... and {len(chosen) - SHOWN:,} more", err=True)


def _report(result: DeleteResult, as_json: bool, text: str) -> None:
    if as_json:
        data = msgspec.json.format(msgspec.json.encode(result), indent=2)
        sys.stdout.write(data.decode() + "\n")
    else:
        click.echo(text)
