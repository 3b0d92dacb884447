"""The column-fitting rule shared by ``traceforge trace list`` and the TUI's list."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from traceforge_shared.views.columns import fit_widths


@dataclass(frozen=True)
class Col:
    priority: int
    min_width: int


ID, MODEL, NOTE = Col(0, 8), Col(2, 10), Col(9, 4)


def test_natural_widths_when_everything_fits() -> None:
    assert fit_widths([8, 30, 20], [ID, MODEL, NOTE], 100) == [8, 30, 20]


def test_least_important_shrink_first_then_go() -> None:
    assert fit_widths([8, 30, 20], [ID, MODEL, NOTE], 50) == [8, 30, 10]
    assert fit_widths([8, 30, 20], [ID, MODEL, NOTE], 30) == [8, 16, 4]
    assert fit_widths([8, 30, 20], [ID, MODEL, NOTE], 19) == [8, 10, 0]
    assert fit_widths([8, 30, 20], [ID, MODEL, NOTE], 5) == [8, 0, 0]  # the id always stays


def test_cells_freed_by_a_dropped_column_go_back_to_the_important_ones() -> None:
    # The note (min 4) cannot stay at 24 cells; once it goes, the model grows back.
    assert fit_widths([8, 30, 20], [ID, MODEL, NOTE], 24, gap=2) == [8, 14, 0]
    assert fit_widths([8, 12, 20], [ID, MODEL, NOTE], 24, gap=2) == [8, 12, 0]


def test_gap_counts_between_shown_columns() -> None:
    assert fit_widths([8, 10], [ID, MODEL], 20, gap=2) == [8, 10]
    assert fit_widths([8, 10], [ID, MODEL], 19, gap=2) == [8, 0]


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 natural widths for 3 columns"):
        fit_widths([1, 2], [ID, MODEL, NOTE], 10)
