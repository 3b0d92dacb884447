"""A run's spans as a tree beside a waterfall of time bars, one row per span.

Each row shows the span's tree guide and name, kind, duration, tokens and status, then a bar
offset by the span's start within the run and as long as its duration
(:func:`traceforge_shared.views.runs.waterfall_bar`), coloured by kind, red when it failed.
The bars take whatever width the other columns leave, so the waterfall fills the widget at
80 columns as at 160; it is laid out again when the widget is resized.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import DataTable

from traceforge_shared.views.run_view import KIND_STYLE, STATUS_STYLE, span_tokens_text
from traceforge_shared.views.runs import RunNode, RunTree, tree_prefix, waterfall_bar
from traceforge_shared.views.units import ms_text

#: Narrowest time bar, in columns.
MIN_BAR = 8

#: Below this width the Tokens column is left out and names are cut shorter.
NARROW = 100

_NAME_MAX_WIDE = 40
_NAME_MAX_NARROW = 26
_CELL_PADDING = 2  # DataTable's cell padding: one column each side
_SCROLLBAR = 2


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending with ``…`` when cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def bar_text(start: int, length: int, width: int, style: str) -> Text:
    """A time bar ``width`` columns wide: ``length`` blocks from column ``start``."""
    bar = Text(" " * start)
    bar.append("█" * length, style=style)
    bar.append(" " * max(0, width - start - length))
    return bar


class Waterfall(DataTable[str | Text]):
    """The spans of one run (row keys: span ids), in tree order, with time bars.

    Call :meth:`show` with a run's tree; :meth:`node` gives the node of a row.
    """

    DEFAULT_CSS = """
    Waterfall {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.run_tree: RunTree | None = None
        self._span_nodes: dict[str, RunNode] = {}
        self._laid_out_for = -1

    def show(self, tree: RunTree | None) -> None:
        """Show ``tree`` (``None``: nothing), keeping the cursor on the same span if it is
        still there."""
        self.run_tree = tree
        self._span_nodes = {} if tree is None else {n.span.span_id: n for n in tree.nodes}
        self._render_rows()

    def node(self, span_id: str | None) -> RunNode | None:
        """The node of the row ``span_id``, if it is shown."""
        return self._span_nodes.get(span_id) if span_id is not None else None

    def highlighted_node(self) -> RunNode | None:
        """The node under the cursor, if any."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.node(key)

    def on_resize(self, event: events.Resize) -> None:
        """Lay the bars out again for the new width."""
        if event.size.width != self._laid_out_for:
            self._render_rows()

    def _render_rows(self) -> None:
        tree = self.run_tree
        cursor = self.highlighted_node()
        width = self.size.width or self.app.size.width
        self._laid_out_for = self.size.width
        self.clear(columns=True)
        if tree is None:
            return
        narrow = width < NARROW
        names = [tree_prefix(n) + n.span.name for n in tree.nodes]
        name_width = min(
            max([len("Span"), *map(len, names)]), _NAME_MAX_NARROW if narrow else _NAME_MAX_WIDE
        )
        columns: list[tuple[str, int]] = [("Span", name_width), ("Kind", 9), ("Duration", 9)]
        if not narrow:
            columns.append(("Tokens", 8))
        columns.append(("Status", 6))
        used = sum(w for _, w in columns) + _CELL_PADDING * (len(columns) + 1) + _SCROLLBAR
        bar_width = max(MIN_BAR, width - used)
        for head, column_width in columns:
            self.add_column(head, width=column_width, key=head.lower())
        self.add_column("Timeline", width=bar_width, key="timeline")
        for node, name in zip(tree.nodes, names, strict=True):
            span = node.span
            kind_style = KIND_STYLE.get(span.kind, "")
            label = Text(cut(name, name_width))
            label.stylize("bright_black", 0, min(len(tree_prefix(node)), name_width))
            if node.depth == 0:
                label.stylize("bold", len(tree_prefix(node)))
            cells: dict[str, str | Text] = {
                "Span": label,
                "Kind": Text(span.kind, style=kind_style),
                "Duration": Text(ms_text(node.duration_ms), justify="right"),
                "Tokens": Text(span_tokens_text(span), justify="right"),
                "Status": Text(span.status, style=STATUS_STYLE.get(span.status, "")),
            }
            start, length = waterfall_bar(node, tree, bar_width)
            style = "red" if span.status == "error" else kind_style
            self.add_row(
                *(cells[head] for head, _ in columns),
                bar_text(start, length, bar_width, style),
                key=span.span_id,
            )
        if cursor is not None and cursor.span.span_id in self._span_nodes:
            self.move_cursor(row=self.get_row_index(cursor.span.span_id))
