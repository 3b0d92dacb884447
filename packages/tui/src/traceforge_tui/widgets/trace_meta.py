"""The detail screen's header: a trace's metadata (:mod:`traceforge_shared.views.metadata`)
in two columns, then its notes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
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


class TraceMeta(Vertical):
    """The metadata of ``trace``: identity and measures side by side, notes below."""

    DEFAULT_CSS = """
    TraceMeta {
        height: auto;
        max-height: 40%;  /* 80x24: the tabs keep most of the screen; the rest scrolls */
        overflow-y: auto;
    }
    TraceMeta > Horizontal {
        height: auto;
    }
    TraceMeta .meta-column {
        width: 1fr;
        height: auto;
    }
    TraceMeta #meta-notes {
        height: auto;
    }
    """

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace

    def compose(self) -> ComposeResult:
        """The two columns and the notes."""
        with Horizontal():
            yield Static(
                rows_text(identity_rows(self.trace)), id="meta-identity", classes="meta-column"
            )
            yield Static(
                rows_text(measure_rows(self.trace)), id="meta-measures", classes="meta-column"
            )
        notes = note_rows(self.trace)
        if notes:
            yield Static(rows_text(notes), id="meta-notes")

    @property
    def plain(self) -> str:
        """The metadata as shown, as plain text: identity, measures, notes (for tests)."""
        blocks = (identity_rows(self.trace), measure_rows(self.trace), note_rows(self.trace))
        return "\n".join(rows_text(rows).plain for rows in blocks if rows)
