"""Two traces side by side: headline numbers, answer similarity, a word-level diff of the two
answers, and the structural differences of their requests and responses.

Keys: ``Esc`` or ``q`` goes back. The comparison is
:func:`traceforge_shared.diff.diff_traces`, computed in a worker.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from difflib import SequenceMatcher
from typing import Any, ClassVar

import msgspec
from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from traceforge_shared.diff import DiffSide, TraceDiff, diff_traces
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.views.units import ms_number
from traceforge_tui import formatting as fmt
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.workers import deferred

#: Style of words only the first answer has (deleted going from A to B).
DELETED_STYLE = "bold white on dark_red"
#: Style of words only the second answer has (inserted going from A to B).
INSERTED_STYLE = "bold white on dark_green"
#: Style of the better of two numbers (lower latency, fewer tokens, lower cost).
BETTER_STYLE = "bold green"
#: Longest value shown in the structural differences (longer ones end with ``…``).
VALUE_CHARS = 160

_WORD_RE = re.compile(r"(\S+)(\s*)")


def _words(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Leading whitespace of ``text`` and its ``(word, following whitespace)`` pairs."""
    stripped = text.lstrip()
    lead = text[: len(text) - len(stripped)]
    return lead, [(m.group(1), m.group(2)) for m in _WORD_RE.finditer(stripped)]


def word_diff(a: str, b: str) -> tuple[Text, Text]:
    """Compare ``a`` and ``b`` word by word (:class:`difflib.SequenceMatcher` over words).

    Returns both texts, whitespace kept, with the words only ``a`` has in
    :data:`DELETED_STYLE` and the words only ``b`` has in :data:`INSERTED_STYLE`.
    """
    lead_a, words_a = _words(a)
    lead_b, words_b = _words(b)
    text_a, text_b = Text(lead_a), Text(lead_b)
    matcher = SequenceMatcher(
        None, [w for w, _ in words_a], [w for w, _ in words_b], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        changed = tag != "equal"
        for word, space in words_a[i1:i2]:
            text_a.append(word, style=DELETED_STYLE if changed else "")
            text_a.append(space)
        for word, space in words_b[j1:j2]:
            text_b.append(word, style=INSERTED_STYLE if changed else "")
            text_b.append(space)
    return text_a, text_b


def _number(value: float | None, render: Callable[[float], str]) -> str:
    return "-" if value is None else render(value)


def _delta(a: float | None, b: float | None, render: Callable[[float], str]) -> str:
    """``b - a`` with a sign, and the relative change when ``a`` is not 0."""
    if a is None or b is None:
        return ""
    change = b - a
    if change == 0:
        return ""
    sign = "+" if change > 0 else "-"
    text = sign + render(abs(change))
    if a:
        text += f" ({change / a:+.0%})"
    return text


def _compare(
    a: float | None, b: float | None, render: Callable[[float], str]
) -> tuple[Text, Text, Text]:
    """Cells of a lower-is-better number: the lower one in :data:`BETTER_STYLE`."""
    better_a = a is not None and b is not None and a < b
    better_b = a is not None and b is not None and b < a
    return (
        Text(_number(a, render), style=BETTER_STYLE if better_a else ""),
        Text(_number(b, render), style=BETTER_STYLE if better_b else ""),
        Text(_delta(a, b, render), style="dim"),
    )


def _ms(value: float) -> str:
    return f"{ms_number(value)} ms"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _usd(value: float) -> str:
    return f"${value:.6f}"


def summary_rows(a: DiffSide, b: DiffSide) -> list[tuple[str, Text, Text, Text]]:
    """The rows of the comparison table: ``(label, A, B, change)``; for latencies, tokens and
    cost the lower value is in :data:`BETTER_STYLE` and the change is ``B - A``."""

    def same(label: str, left: str, right: str) -> tuple[str, Text, Text, Text]:
        return label, Text(left), Text(right), Text("" if left == right else "≠", style="yellow")

    rows = [
        same("Provider", a.provider, b.provider),
        same("Model", a.model or "-", b.model or "-"),
        same("Route", a.route, b.route),
        (
            "Status",
            fmt.status(a.status, a.status_code),
            fmt.status(b.status, b.status_code),
            Text("" if (a.status, a.status_code) == (b.status, b.status_code) else "≠", "yellow"),
        ),
        same(
            "Type",
            "Stream" if a.streaming else "Normal",
            "Stream" if b.streaming else "Normal",
        ),
        ("Latency", *_compare(a.latency_ms, b.latency_ms, _ms)),
    ]
    if a.streaming or b.streaming:
        rows.append(
            ("First chunk", *_compare(a.first_chunk_latency_ms, b.first_chunk_latency_ms, _ms))
        )
    rows += [
        ("Prompt tokens", *_compare(a.prompt_tokens, b.prompt_tokens, _count)),
        ("Completion tokens", *_compare(a.completion_tokens, b.completion_tokens, _count)),
        ("Total tokens", *_compare(a.total_tokens, b.total_tokens, _count)),
        ("Cost", *_compare(a.cost_usd, b.cost_usd, _usd)),
    ]
    return rows


def summary_table(diff: TraceDiff) -> Table:
    """The comparison table of ``diff``'s two sides (:func:`summary_rows`)."""
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    table.add_column("")
    table.add_column(f"A {diff.a.id}", ratio=2)
    table.add_column(f"B {diff.b.id}", ratio=2)
    table.add_column("B vs A", ratio=1)
    for label, left, right, change in summary_rows(diff.a, diff.b):
        table.add_row(Text(label, style="bold"), left, right, change)
    return table


def similarity_text(similarity: float, width: int = 20) -> Text:
    """``Answer similarity  87%  ████████████████░░░░`` (green from 90%, yellow from 60%,
    else red)."""
    style = "green" if similarity >= 0.9 else "yellow" if similarity >= 0.6 else "red"
    filled = round(similarity * width)
    text = Text("Answer similarity  ", style="bold")
    text.append(f"{similarity:.0%}", style=f"bold {style}")
    text.append("  ")
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    return text


def short_value(value: Any, limit: int = VALUE_CHARS) -> str:
    """``value`` as compact JSON, cut to ``limit`` characters with ``…``."""
    try:
        text = msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def structure_text(diff: TraceDiff) -> Text:
    """The added, removed and changed fields of ``diff``, one per line under a heading."""
    text = Text()
    sections = 0

    def heading(title: str, count: int) -> None:
        nonlocal sections
        if sections:
            text.append("\n\n")
        sections += 1
        text.append(f"{title} ({count})", style="bold")

    if diff.changed:
        heading("Changed", len(diff.changed))
        for changed in diff.changed:
            text.append("\n~ ", style="bold yellow")
            text.append(changed.path, style="yellow")
            text.append(": ")
            text.append(short_value(changed.from_), style="red")
            text.append(" → ")
            text.append(short_value(changed.to), style="green")
    for title, sign, style, entries in (
        ("Added in B", "+", "green", diff.added),
        ("Removed in B", "-", "red", diff.removed),
    ):
        if entries:
            heading(title, len(entries))
        for entry in entries:
            text.append(f"\n{sign} ", style=f"bold {style}")
            text.append(entry.path, style=style)
            text.append(f": {short_value(entry.value)}")
    if not sections:
        text.append("No differences in the requests and responses.", style="dim")
    if diff.truncated:
        text.append("\n\n(some lists were cut: too many differences to show them all)", "dim")
    return text


class DiffScreen(Screen[None]):
    """Compare trace ``id1`` (A) with trace ``id2`` (B) of ``store``; ids may be prefixes.

    Attributes:
        diff: the comparison, once the worker has computed it.
    """

    DEFAULT_CSS = """
    DiffScreen #diff-status {
        height: auto;
        padding: 0 1;
    }
    DiffScreen #diff-summary {
        height: auto;
        padding: 0 1;
    }
    DiffScreen #diff-similarity {
        height: auto;
        padding: 0 1 1 1;
    }
    DiffScreen #diff-answers {
        height: 1fr;
        min-height: 6;
    }
    DiffScreen .diff-answer-pane {
        width: 1fr;
        height: 1fr;
        border: round $secondary;
        padding: 0 1;
    }
    DiffScreen #diff-structure-pane {
        height: 1fr;
        min-height: 5;
        border: round $secondary;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: TraceStore, id1: str, id2: str) -> None:
        super().__init__()
        self.store = store
        self.id1 = id1
        self.id2 = id2
        self.diff: TraceDiff | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("Comparing…", style="dim"), id="diff-status")
        yield Static(id="diff-summary")
        yield Static(id="diff-similarity")
        with Horizontal(id="diff-answers"):
            with VerticalScroll(id="diff-answer-a-pane", classes="diff-answer-pane"):
                yield Static(id="diff-answer-a")
            with VerticalScroll(id="diff-answer-b-pane", classes="diff-answer-pane"):
                yield Static(id="diff-answer-b")
        with VerticalScroll(id="diff-structure-pane"):
            yield Static(id="diff-structure")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"{self.id1} vs {self.id2}"
        for selector in ("#diff-answers", "#diff-structure-pane"):
            self.query_one(selector).display = False
        self.query_one("#diff-answer-a-pane").border_title = "A"
        self.query_one("#diff-answer-b-pane").border_title = "B"
        self.query_one("#diff-structure-pane").border_title = "Request and response differences"
        self.run_worker(deferred(self._load), group="diff", exclusive=True)

    def _compute(self) -> TraceDiff:
        return diff_traces(self.store.get(self.id1), self.store.get(self.id2))

    async def _load(self) -> None:
        status = self.query_one("#diff-status", Static)
        try:
            diff = await asyncio.to_thread(self._compute)
        except (StoreError, OSError, sqlite3.Error, ValueError) as exc:
            status.update(Text(f"Cannot compare {self.id1} and {self.id2}: {exc}", style="red"))
            return
        self.diff = diff
        self.show(diff)

    def show(self, diff: TraceDiff) -> None:
        """Fill the screen with ``diff``."""
        self.query_one("#diff-status", Static).display = False
        self.sub_title = f"{diff.a.id} vs {diff.b.id}"
        self.query_one("#diff-summary", Static).update(summary_table(diff))
        self.query_one("#diff-similarity", Static).update(similarity_text(diff.similarity))
        answer_a, answer_b = word_diff(diff.answer_a, diff.answer_b)
        self.query_one("#diff-answer-a", Static).update(
            answer_a if diff.answer_a else Text("(no text)", style="dim")
        )
        self.query_one("#diff-answer-b", Static).update(
            answer_b if diff.answer_b else Text("(no text)", style="dim")
        )
        pane_a, pane_b = (
            self.query_one("#diff-answer-a-pane"),
            self.query_one("#diff-answer-b-pane"),
        )
        pane_a.border_title = f"A {diff.a.id}: removed words in red"
        pane_b.border_title = f"B {diff.b.id}: added words in green"
        self.query_one("#diff-structure", Static).update(structure_text(diff))
        for selector in ("#diff-answers", "#diff-structure-pane"):
            self.query_one(selector).display = True
