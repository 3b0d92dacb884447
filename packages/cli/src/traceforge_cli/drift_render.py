"""Printing a cassette drift report (:mod:`traceforge_shared.cassettes.drift`): a table (or
TSV) of requests with their verdicts, and the totals line; used by ``traceforge cassette
diff`` and by ``traceforge start --mode record`` over an existing cassette."""

from __future__ import annotations

from typing import TYPE_CHECKING

from traceforge_cli.output import Cell, Column, Format, print_rows

if TYPE_CHECKING:
    from rich.console import Console

    from traceforge_shared.cassettes.drift import DriftReport

#: Columns of the drift table (TSV headers are the keys).
DRIFT_COLUMNS: tuple[Column, ...] = (
    Column("Verdict", "verdict", priority=0, min_width=10),
    Column("Request", "request", priority=2, min_width=12),
    Column("Similarity", "similarity", priority=3, min_width=4, justify="right"),
    Column("What changed", "reasons", priority=1, min_width=16),
    Column("Recording", "recording", priority=4, min_width=10),
)

_STYLES = {"identical": "green", "benign": "yellow", "regression": "bold red"}


def drift_rows(report: DriftReport) -> list[list[str | Cell]]:
    """One row per request of ``report`` (see :data:`DRIFT_COLUMNS`)."""
    return [
        [
            Cell(entry.verdict, _STYLES[entry.verdict]),
            entry.request,
            "-" if entry.similarity is None else f"{entry.similarity:.2f}",
            "; ".join(entry.reasons) or "-",
            (entry.after or entry.before or "").rpartition("/")[2],
        ]
        for entry in report.entries
    ]


def drift_totals(report: DriftReport) -> str:
    """``3 identical, 1 benign, 0 regression(s)``."""
    counts = report.counts
    return (
        f"{counts['identical']} identical, {counts['benign']} benign, "
        f"{counts['regression']} regression(s)"
    )


def print_drift(fmt: Format, report: DriftReport, console: Console | None = None) -> None:
    """Print ``report`` as a table (then its totals) or TSV (``fmt``, not ``json``)."""
    print_rows(fmt, DRIFT_COLUMNS, drift_rows(report), console)
    if fmt == "table":
        if console is None:
            from rich.console import Console

            console = Console(emoji=False, highlight=False)
        console.print(drift_totals(report), markup=False)
