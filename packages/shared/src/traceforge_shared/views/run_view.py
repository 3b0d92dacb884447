"""How the CLI, the TUI and the web API show runs: the nested JSON of a run's tree, the
colour of each span kind and status, token and cost cells.

Plain data (no rich/textual); the tree comes from :func:`traceforge_shared.views.runs.build_tree`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from traceforge_shared.spans import RunSummary, SessionSummary, Span, iso_from_ns
from traceforge_shared.views.runs import RunNode, RunTree
from traceforge_shared.views.units import MISSING, usd_text

#: Colour of each span kind (a rich/Textual colour name) in trees and waterfalls.
KIND_STYLE: dict[str, str] = {
    "llm": "cyan",
    "embedding": "blue",
    "agent": "magenta",
    "tool": "yellow",
    "retrieval": "green",
    "mcp": "bright_blue",
    "chain": "white",
    "custom": "bright_black",
}

#: Colour of each span or run status.
STATUS_STYLE: dict[str, str] = {"ok": "green", "error": "red", "unset": "bright_black"}


def node_json(node: RunNode) -> dict[str, Any]:
    """One node of a run's tree as JSON-ready builtins: every :class:`Span` field, plus
    ``offset_ms`` (from the run's start), ``duration_ms``, ``depth``, ``orphan`` and the nested
    ``children`` (by start)."""
    data: dict[str, Any] = msgspec.to_builtins(node.span)
    data.update(
        offset_ms=round(node.offset_ms, 3),
        duration_ms=round(node.duration_ms, 3),
        depth=node.depth,
        orphan=node.orphan,
        children=[node_json(child) for child in node.children],
    )
    return data


def tree_json(tree: RunTree, summary: RunSummary | None = None) -> dict[str, Any]:
    """A run's tree as JSON-ready builtins: ``trace_id``, ``start_ns``, ``end_ns``,
    ``duration_ms``, ``span_count``, ``errors``, the run ``summary`` (a :class:`RunSummary`,
    or ``null``) and ``spans``, the root nodes of :func:`node_json`, nested."""
    return {
        "trace_id": tree.trace_id,
        "start_ns": tree.start_ns,
        "end_ns": tree.end_ns,
        "duration_ms": round(tree.duration_ms, 3),
        "span_count": tree.span_count,
        "errors": tree.errors,
        "summary": None if summary is None else msgspec.to_builtins(summary),
        "spans": [node_json(root) for root in tree.roots],
    }


def span_tokens_text(span: Span) -> str:
    """A span's tokens as ``input→output`` (``10→5``); ``-`` without usage."""
    usage = span.usage
    if usage is None:
        return MISSING
    return f"{usage.prompt_tokens}→{usage.completion_tokens}"


def tokens_text(summary: RunSummary | SessionSummary) -> str:
    """A run's or session's tokens as ``input→output``; ``-`` when both are 0."""
    if not summary.input_tokens and not summary.output_tokens:
        return MISSING
    return f"{summary.input_tokens}→{summary.output_tokens}"


def cost_cell(cost_usd: float | None) -> str:
    """A cost in USD (``$0.000840``); ``-`` when unknown."""
    return usd_text(cost_usd)


def session_totals(session_id: str, runs: list[RunSummary]) -> SessionSummary:
    """The totals of one session from its runs (as ``SpanStore.get_session`` lists them):
    runs, LLM calls, tokens, cost in USD (``None`` when no run has one), failed spans, first
    start and last end (ISO 8601 UTC).

    Raises:
        ValueError: ``runs`` is empty.
    """
    if not runs:
        raise ValueError(f"session {session_id!r} has no runs")
    costs = [run.cost_usd for run in runs if run.cost_usd is not None]
    last_ns = max(run.start_ns + int(run.duration_ms * 1e6) for run in runs)
    return SessionSummary(
        session_id=session_id,
        runs=len(runs),
        calls=sum(run.llm_calls for run in runs),
        input_tokens=sum(run.input_tokens for run in runs),
        output_tokens=sum(run.output_tokens for run in runs),
        cost_usd=sum(costs) if costs else None,
        errors=sum(run.error_count for run in runs),
        first_time=min(run.start_time for run in runs),
        last_time=iso_from_ns(last_ns),
    )
