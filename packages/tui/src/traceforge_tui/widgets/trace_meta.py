"""The detail screen's header: a trace's metadata (:mod:`traceforge_shared.views.metadata`)
in two columns, then its notes."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from traceforge_shared.trace import Trace
from traceforge_shared.views.metadata import (
    MetadataRow,
    identity_rows,
    measure_rows,
    metadata_rows,
    note_rows,
)
from traceforge_tui.formatting import LEVEL_STYLE


def rows_text(rows: list[MetadataRow]) -> Text:
    """``rows`` as aligned ``label  value`` lines, values in their level's colour."""
    text = Text()
    if not rows:
        return text
    width = max(len(row.label) for row in rows)
    for i, row in enumerate(rows):
        if i:
            text.append("\n")
        text.append(row.label.ljust(width + 2), style="bold")
        text.append(row.value, style=LEVEL_STYLE[row.level] if row.level else "")
    return text


def metadata_text(trace: Trace) -> Text:
    """All of a trace's metadata as one block of ``label  value`` lines."""
    return rows_text(metadata_rows(trace))


class TraceMeta(VerticalScroll):
    """The metadata of ``trace``: identity and measures side by side, notes below, drawn by
    one Static (a Rich grid: each widget costs milliseconds of styling and layout when the
    detail opens, ``bench/tui_scale.py``)."""

    DEFAULT_CSS = """
    TraceMeta {
        height: auto;
        max-height: 40%;  /* 80x24: the tabs keep most of the screen; the rest scrolls */
    }
    TraceMeta #meta-rows {
        height: auto;
    }
    """

    def __init__(self, trace: Trace, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace = trace

    def compose(self) -> ComposeResult:
        """The grid of :func:`meta_renderable`."""
        yield Static(meta_renderable(self.trace), id="meta-rows")

    @property
    def plain(self) -> str:
        """The metadata as shown, as plain text: identity, measures, notes (for tests)."""
        blocks = (identity_rows(self.trace), measure_rows(self.trace), note_rows(self.trace))
        return "\n".join(rows_text(rows).plain for rows in blocks if rows)


def meta_renderable(trace: Trace) -> RenderableType:
    """Identity rows and measure rows in two equal columns, the notes below after a blank
    line (:mod:`traceforge_shared.views.metadata`)."""
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(rows_text(identity_rows(trace)), rows_text(measure_rows(trace)))
    notes = note_rows(trace)
    if not notes:
        return grid
    return Group(grid, Text(), rows_text(notes))
