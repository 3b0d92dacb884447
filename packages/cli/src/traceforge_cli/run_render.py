"""``traceforge run show``: a run's tree rendered with rich (one line per span, its guide,
kind, name, start offset, duration, tokens, cost, status and a time bar)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from traceforge_shared.spans import RunSummary
from traceforge_shared.views.run_view import (
    KIND_STYLE,
    STATUS_STYLE,
    cost_cell,
    span_tokens_text,
    tokens_text,
)
from traceforge_shared.views.runs import RunTree, tree_prefix, waterfall_bar
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import MISSING, ms_text

#: Columns of the time bar of each span.
BAR_WIDTH = 24


def run_header(tree: RunTree, summary: RunSummary | None) -> Text:
    """The lines above the tree: run id, start (local time), duration, spans, LLM calls,
    tokens, cost, status and session."""
    text = Text()
    text.append("Run ", style="bold")
    text.append(tree.trace_id, style="bold cyan")
    if summary is None:
        return text
    text.append(
        f"\nStarted {local_time(summary.start_time)} · {ms_text(summary.duration_ms)} · "
        f"{summary.span_count} spans · {summary.llm_calls} LLM calls · "
        f"tokens {tokens_text(summary)} · cost {cost_cell(summary.cost_usd)} · "
    )
    text.append(summary.status, style=STATUS_STYLE.get(summary.status, ""))
    if summary.error_count:
        text.append(f" ({summary.error_count} failed)", style="red")
    if summary.session_id:
        text.append(f" · session {summary.session_id}")
    return text


def _bar(start: int, length: int, width: int, style: str) -> Text:
    bar = Text(" " * start)
    bar.append("█" * length, style=style)
    bar.append(" " * (width - start - length))
    return bar


#: Below this console width the Start, Cost and Trace columns are left out and the time bar
#: is :data:`NARROW_BAR_WIDTH` wide.
NARROW_WIDTH = 130
NARROW_BAR_WIDTH = 12


def run_tree(tree: RunTree, summary: RunSummary | None, width: int = 160) -> RenderableType:
    """The header and one table row per span in tree order, for a console ``width`` cells
    wide; a span recorded as a trace shows the trace's id prefix (open it with ``traceforge
    trace show``)."""
    narrow = width < NARROW_WIDTH
    bar_width = NARROW_BAR_WIDTH if narrow else BAR_WIDTH
    headers = ["Kind", "Start", "Duration", "Tokens", "Cost", "Status", "Trace"]
    if narrow:
        headers = ["Kind", "Duration", "Tokens", "Status"]
    table = Table(box=None, padding=(0, 1, 0, 0), pad_edge=False, header_style="bold underline")
    table.add_column("Span", no_wrap=True, overflow="ellipsis", ratio=1, min_width=16)
    for header in headers:
        right = header in ("Start", "Duration", "Tokens", "Cost")
        table.add_column(header, no_wrap=True, justify="right" if right else "left")
    table.add_column("Timeline", no_wrap=True, width=bar_width)
    for node in tree.nodes:
        span = node.span
        kind_style = KIND_STYLE.get(span.kind, "")
        status_style = STATUS_STYLE.get(span.status, "")
        name = Text(tree_prefix(node), style="bright_black")
        name.append(span.name, style="bold" if node.depth == 0 else "")
        if node.orphan:
            name.append(" (parent missing)", style="yellow")
        status = Text(span.status, style=status_style)
        if span.status == "error" and span.status_message and not narrow:
            status.append(f": {span.status_message}", style=status_style)
        cells: dict[str, Text | str] = {
            "Kind": Text(span.kind, style=kind_style),
            "Start": ms_text(node.offset_ms),
            "Duration": ms_text(node.duration_ms),
            "Tokens": span_tokens_text(span),
            "Cost": cost_cell(span.cost_usd),
            "Status": status,
            "Trace": span.trace_ref[:8] if span.trace_ref else MISSING,
        }
        start, length = waterfall_bar(node, tree, bar_width)
        bar_style = "red" if span.status == "error" else kind_style
        table.add_row(name, *(cells[h] for h in headers), _bar(start, length, bar_width, bar_style))
    return Group(run_header(tree, summary), Text(""), table)
