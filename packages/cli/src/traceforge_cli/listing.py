"""The rows of ``traceforge trace list`` (and of ``demo``'s closing list) for
:mod:`traceforge_cli.output`: no rich import, so a TSV listing never loads rich."""

from __future__ import annotations

from collections.abc import Sequence

from traceforge_cli.output import Cell, Column
from traceforge_shared.trace import TraceSummary
from traceforge_shared.views.status import status_view
from traceforge_shared.views.times import local_time
from traceforge_shared.views.units import ms_text

#: The colour of each level of :mod:`traceforge_shared.views.status`.
LEVEL_STYLE = {"ok": "green", "warn": "yellow", "error": "red"}

#: Table columns: id, status and model stay whole longest on a narrow terminal.
TRACE_TABLE_COLUMNS: tuple[Column, ...] = (
    Column("ID", "id", priority=0, min_width=8),
    Column("Time", "time", priority=4, min_width=5),
    Column("Provider", "provider", priority=6, min_width=6),
    Column("Model", "model", priority=2, min_width=10),
    Column("Type", "type", priority=7, min_width=4),
    Column("Tokens", "tokens", priority=5, min_width=5, justify="right"),
    Column("Latency", "latency", priority=3, min_width=6, justify="right"),
    Column("Status", "status", priority=1, min_width=7),
)

#: TSV columns: whole values a script can use (full id, ISO 8601 UTC time, numbers in
#: tokens and ms, the status label such as ``error 429``).
TRACE_TSV_COLUMNS: tuple[Column, ...] = (
    Column("ID", "id", 0),
    Column("Time", "timestamp", 0),
    Column("Provider", "provider", 0),
    Column("Model", "model", 0),
    Column("Type", "type", 0),
    Column("Prompt tokens", "prompt_tokens", 0),
    Column("Completion tokens", "completion_tokens", 0),
    Column("Latency ms", "latency_ms", 0),
    Column("Status", "status", 0),
)


def trace_table_rows(summaries: Sequence[TraceSummary]) -> list[list[str | Cell]]:
    """One row per summary for :data:`TRACE_TABLE_COLUMNS`: the 8-character id prefix, local
    ``MM-DD HH:MM``, ``prompt→completion`` tokens, latency with its unit, a coloured status."""
    rows: list[list[str | Cell]] = []
    for s in summaries:
        view = status_view(s.status, s.status_code)
        rows.append(
            [
                s.id[:8],
                local_time(s.timestamp)[5:16],
                s.provider,
                s.model or "-",
                "Stream" if s.streaming else "Normal",
                f"{s.prompt_tokens}→{s.completion_tokens}" if s.total_tokens else "-",
                ms_text(s.latency_ms),
                Cell(view.label, LEVEL_STYLE[view.level]),
            ]
        )
    return rows


def trace_tsv_rows(summaries: Sequence[TraceSummary]) -> list[list[str | Cell]]:
    """One row per summary for :data:`TRACE_TSV_COLUMNS` (latency in ms, 1 decimal)."""
    return [
        [
            s.id,
            s.timestamp,
            s.provider,
            s.model,
            "stream" if s.streaming else "normal",
            str(s.prompt_tokens),
            str(s.completion_tokens),
            f"{s.latency_ms:.1f}",
            status_view(s.status, s.status_code).label,
        ]
        for s in summaries
    ]
