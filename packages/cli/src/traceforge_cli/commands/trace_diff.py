"""``traceforge trace diff A B`` (also ``traceforge diff A B``): what differs between two
traces, from :func:`traceforge_shared.diff.diff_traces` (the comparison the TUI's diff screen
and ``GET /api/traces/diff`` show)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_shared.diff import DiffSide, TraceDiff, diff_traces
from traceforge_shared.store import StoreError
from traceforge_shared.trace import Trace
from traceforge_shared.views.units import ms_text

#: Exit status: like diff(1), 0 when the traces do not differ, 1 when they do, 2 when a
#: trace cannot be read.
EXIT_SAME, EXIT_DIFFERENT, EXIT_TROUBLE = 0, 1, 2

#: Longest value shown in the text output (``--json`` has every value whole).
VALUE_CHARS = 200


class TraceUnreadable(click.ClickException):
    """A trace to compare is missing, ambiguous or unreadable: exit status
    :data:`EXIT_TROUBLE`, as diff(1) for a file it cannot read."""

    exit_code = EXIT_TROUBLE


def differs(result: TraceDiff) -> bool:
    """Whether ``result`` has any added, removed or changed value."""
    return bool(result.added or result.removed or result.changed)


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _side(label: str, side: DiffSide) -> str:
    tokens = f"{side.prompt_tokens}→{side.completion_tokens} tokens" if side.total_tokens else ""
    parts = [side.id, side.provider, side.model or "-", side.status, ms_text(side.latency_ms)]
    return f"{label} " + "  ".join(p for p in [*parts, tokens] if p)


def echo_diff(result: TraceDiff) -> None:
    """Print ``result`` as text: the two traces, then one line per difference (``-`` only in
    A, ``+`` only in B, ``~`` changed, with field paths), then the answers' similarity.
    Coloured on a terminal (click drops the colours in a pipe)."""
    click.secho(_side("---", result.a), fg="red")
    click.secho(_side("+++", result.b), fg="green")
    for removed in result.removed:
        click.secho(f"- {removed.path}: {_value(removed.value)}", fg="red")
    for added in result.added:
        click.secho(f"+ {added.path}: {_value(added.value)}", fg="green")
    for changed in result.changed:
        click.echo(
            f"~ {changed.path}: "
            + click.style(_value(changed.from_), fg="red")
            + " → "
            + click.style(_value(changed.to), fg="green")
        )
    if result.truncated:
        click.echo("(more differences not shown; use --json)")
    count = len(result.added) + len(result.removed) + len(result.changed)
    verdict = f"{count} difference{'s' if count != 1 else ''}" if count else "no differences"
    click.secho(f"{verdict}; answer similarity {result.similarity:.0%}", bold=True)


def load(trace_id: str) -> Trace:
    """The trace ``trace_id`` (an id or unique prefix) of the chosen home.

    Raises:
        click.ClickException: not found, ambiguous, unreadable (exit status
            :data:`EXIT_TROUBLE`).
    """
    try:
        return context.store().get(trace_id)
    except StoreError as exc:
        raise TraceUnreadable(str(exc)) from exc


@click.command("diff")
@home_option
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def diff(first: str, second: str, as_json: bool) -> None:
    """Compare two traces: request, answer and metadata differences (exit 1 if any).

    A and B are trace ids or unique prefixes. Ids, times, headers and latencies are not
    compared (the first lines show the latencies). Exit status, as diff(1): 0 no
    difference, 1 differences, 2 trouble (a trace not found).
    """
    a, b = load(first), load(second)
    result = diff_traces(a, b)
    if as_json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result), indent=2).decode())
        sys.stdout.write("\n")
    else:
        echo_diff(result)
    raise SystemExit(EXIT_DIFFERENT if differs(result) else EXIT_SAME)
