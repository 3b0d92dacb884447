"""Terminal bar charts drawn as text (no plotting library): a timeline of calls and errors
per bucket with the counts written above the bars, and horizontal bars with their values.

Pure functions return :class:`rich.text.Text` for a given size, so the charts fit any
terminal (80x24 too) and snapshot the same everywhere; :class:`TimelineChart` redraws for its
widget's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widget import Widget

from traceforge_shared.analytics import TimelineBucket

__all__ = ["BLOCKS", "TimelineChart", "hbar_text", "timeline_text"]

#: Eighths of a cell, empty to full.
BLOCKS = " ▁▂▃▄▅▆▇█"
CALLS_STYLE = "cyan"
ERRORS_STYLE = "red"


def _merge(buckets: Sequence[TimelineBucket], columns: int) -> list[TimelineBucket]:
    """``buckets`` merged ``k`` at a time so at most ``columns`` remain (first start kept)."""
    if len(buckets) <= columns:
        return list(buckets)
    k = math.ceil(len(buckets) / columns)
    return [
        TimelineBucket(
            start=buckets[i].start,
            count=sum(b.count for b in buckets[i : i + k]),
            errors=sum(b.errors for b in buckets[i : i + k]),
        )
        for i in range(0, len(buckets), k)
    ]


def timeline_text(
    buckets: Sequence[TimelineBucket],
    width: int,
    height: int,
    label: Callable[[str], str],
) -> Text:
    """Vertical bars of calls per bucket (errors in red at the bottom of each bar), the count
    written above each bar where it fits (the highest first), a y axis and bucket labels.

    Args:
        buckets: the timeline, oldest first.
        width, height: cells to fill (at least 10 x 4); the last row holds the labels.
        label: the x label of a bucket start (e.g. ``08:00``).
    """
    width, height = max(width, 10), max(height, 4)
    top = max((b.count for b in buckets), default=0)
    axis = len(f"{top:,}") + 1
    merged = _merge(buckets, width - axis)
    n = max(len(merged), 1)
    column = max(1, (width - axis) // n)
    bar = column - 1 if column >= 3 else column
    rows = height - 2  # a row for the labels above the tallest bars, one for the x labels
    grid = [[" "] * width for _ in range(height)]
    styles: list[list[str]] = [[""] * width for _ in range(height)]
    for r, text in ((1, f"{top:,}"), (rows, "0")):
        for i, char in enumerate(text.rjust(axis - 1)):
            grid[r][i] = char
            styles[r][i] = "dim"
    scale = rows * 8 / top if top else 0.0
    tops: list[int] = []  # row index of the label above each bar
    for i, bucket in enumerate(merged):
        x0 = axis + i * column
        level = round(bucket.count * scale)
        if bucket.count and level == 0:
            level = 1  # a call is never invisible
        errors = math.ceil(bucket.errors * scale) if bucket.errors else 0
        for j in range(rows):  # j: cell from the bottom
            eighths = min(8, max(0, level - j * 8))
            if not eighths:
                continue
            style = ERRORS_STYLE if j * 8 < errors else CALLS_STYLE
            r = rows - j
            for x in range(x0, min(x0 + bar, width)):
                grid[r][x] = BLOCKS[eighths]
                styles[r][x] = style
        tops.append(rows - math.ceil(level / 8))
    order = sorted(range(len(merged)), key=lambda i: -merged[i].count)
    labelled: set[tuple[int, int]] = set()
    for i in order:
        count = merged[i].count
        if not count:
            continue
        text = f"{count:,}"
        x0 = axis + i * column + max(0, (bar - len(text)) // 2)
        r = tops[i]
        cells = range(x0, x0 + len(text))
        if x0 + len(text) > width or any(grid[r][x] != " " for x in cells):
            continue
        if (r, x0 - 1) in labelled or (r, x0 + len(text)) in labelled:
            continue  # keep a space between two counts
        labelled.update((r, x) for x in cells)
        for k, x in enumerate(cells):
            grid[r][x] = text[k]
            styles[r][x] = "bold"
    last = height - 1
    x = axis
    for i, bucket in enumerate(merged):
        x0 = axis + i * column
        text = label(bucket.start)
        if x0 >= x and x0 + len(text) <= width:
            for k, char in enumerate(text):
                grid[last][x0 + k] = char
                styles[last][x0 + k] = "dim"
            x = x0 + len(text) + 2
    out = Text()
    for r in range(height):
        for c in range(width):
            out.append(grid[r][c], style=styles[r][c] or None)
        if r < height - 1:
            out.append("\n")
    return out


def hbar_text(rows: Sequence[tuple[str, float, str]], width: int, *, name_width: int = 16) -> Text:
    """One line per row: the name (cut with …), a bar as long as its value against the
    largest, and the value's text after it. Every row is drawn: none is dropped for space.

    Args:
        rows: ``(name, value, value text)``, in the order to draw.
        width: cells per line.
        name_width: most cells of a name.
    """
    names = [name if len(name) <= name_width else name[: name_width - 1] + "…" for name, *_ in rows]
    name_w = max((len(n) for n in names), default=0)
    value_w = max((len(v) for *_, v in rows), default=0)
    room = max(1, width - name_w - value_w - 3)
    top = max((value for _, value, _ in rows), default=0) or 1
    out = Text()
    for i, (name, (_, value, shown)) in enumerate(zip(names, rows, strict=True)):
        eighths = round(value / top * room * 8)
        if value and not eighths:
            eighths = 1
        bar = "█" * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")
        out.append(f"{name:<{name_w}} ")
        out.append(bar, style=CALLS_STYLE)
        out.append(f" {shown}", style="bold")
        if i < len(rows) - 1:
            out.append("\n")
    return out


class TimelineChart(Widget):
    """The timeline of :func:`timeline_text`, redrawn for the widget's size.

    Args:
        id: the widget id.
    """

    DEFAULT_CSS = """
    TimelineChart {
        height: 10;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.buckets: list[TimelineBucket] = []
        self.label: Callable[[str], str] = str

    def show(self, buckets: list[TimelineBucket], label: Callable[[str], str]) -> None:
        """Draw ``buckets`` with bucket labels from ``label``."""
        self.buckets = buckets
        self.label = label
        self.refresh()

    def render(self) -> Text:
        """The chart at the widget's size."""
        return timeline_text(self.buckets, self.size.width, self.size.height, self.label)
