"""Which table columns fit a terminal, and how wide: the least important shrink, then go.

One rule for every table of traces, so ``traceforge trace list`` and the TUI's list keep the
same columns at the same width (80 columns: id, status, model, latency first). Pure: widths
are terminal cells; nothing here measures or draws text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class FittedColumn(Protocol):
    """What :func:`fit_widths` needs of a column."""

    @property
    def priority(self) -> int:
        """0 is kept whole longest; higher numbers shrink and disappear first."""
        ...

    @property
    def min_width(self) -> int:
        """Fewest terminal cells the column shrinks to (``…`` included)."""
        ...


def fit_widths(
    natural: Sequence[int], columns: Sequence[FittedColumn], width: int, *, gap: int = 1
) -> list[int]:
    """The width of each column (terminal cells) so the table fits in ``width`` cells.

    Args:
        natural: each column's widest cell, header included (cells).
        columns: the columns, in the same order (their priority and min_width).
        width: the cells available for the whole table.
        gap: cells between two shown columns.

    Returns:
        One width per column. Columns keep their natural width while everything fits;
        otherwise the least important (highest priority number) shrink first, each down to
        its ``min_width``; if even that is too wide, the least important columns get width 0
        (left out; the most important one always stays). Cells freed by a column left out
        go back to the shrunk columns that stay, most important first.

    Raises:
        ValueError: ``natural`` and ``columns`` differ in length.
    """
    if len(natural) != len(columns):
        raise ValueError(f"{len(natural)} natural widths for {len(columns)} columns")
    widths = list(natural)
    order = sorted(range(len(columns)), key=lambda i: columns[i].priority, reverse=True)

    def total() -> int:
        shown = [w for w in widths if w > 0]
        return sum(shown) + gap * max(len(shown) - 1, 0)

    for i in order:
        excess = total() - width
        if excess <= 0:
            return widths
        floor = min(columns[i].min_width, natural[i])
        widths[i] = max(floor, widths[i] - excess)
    dropped = False
    for i in order[:-1]:  # the most important column always stays
        if total() <= width:
            break
        widths[i] = 0
        dropped = True
    if dropped:
        for i in reversed(order):  # most important first
            spare = width - total()
            if spare <= 0:
                break
            if widths[i] > 0:
                widths[i] = min(natural[i], widths[i] + spare)
    return widths
