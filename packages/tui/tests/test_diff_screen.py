"""The diff screen driven through Textual's pilot, and its word-level diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.table import Table
from rich.text import Text
from textual.app import App
from textual.widgets import Static

from traceforge_shared.diff import diff_traces
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui.screens.diff import (
    BETTER_STYLE,
    DELETED_STYLE,
    INSERTED_STYLE,
    DiffScreen,
    summary_rows,
    word_diff,
)

SIZE = (120, 40)
#: 2026-11-23T08:00:00Z.
BASE_EPOCH = 1795420800.0


class HostApp(App[None]):
    """A bare app that opens the diff screen over a blank screen."""

    def __init__(self, store: TraceStore, id1: str, id2: str) -> None:
        super().__init__()
        self.store = store
        self.ids = (id1, id2)

    def on_mount(self) -> None:
        self.push_screen(DiffScreen(self.store, *self.ids))


def styled(text: Text, style: str) -> list[str]:
    """The pieces of ``text`` that carry ``style``."""
    return [text.plain[span.start : span.end] for span in text.spans if span.style == style]


def content(app: App[Any], selector: str) -> Any:
    return app.screen.query_one(selector, Static).content


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
def pair(store: TraceStore) -> tuple[Trace, Trace]:
    a = make_trace(
        text="The capital of France is Paris.",
        epoch_s=BASE_EPOCH,
        latency_ms=800.0,
        completion_tokens=7,
    )
    b = make_trace(
        model="gpt-4o",
        text="The capital of France is Lyon.",
        epoch_s=BASE_EPOCH + 60,
        latency_ms=500.0,
        completion_tokens=9,
    )
    a.id = "aaaa00000000000000000001"
    b.id = "bbbb00000000000000000002"
    b.request["temperature"] = 0.2
    store.save(a)
    store.save(b)
    return a, b


def test_word_diff_marks_changed_words() -> None:
    left, right = word_diff("the  quick brown fox\njumps", "the quick red fox\njumps high")
    assert left.plain == "the  quick brown fox\njumps"  # whitespace kept as written
    assert right.plain == "the quick red fox\njumps high"
    assert styled(left, DELETED_STYLE) == ["brown"]
    assert styled(right, INSERTED_STYLE) == ["red", "high"]
    assert styled(left, INSERTED_STYLE) == []


def test_word_diff_of_equal_and_empty_texts() -> None:
    left, right = word_diff("  same words", "  same words")
    assert left.spans == right.spans == []
    left, right = word_diff("", "new")
    assert left.plain == ""
    assert styled(right, INSERTED_STYLE) == ["new"]


def test_summary_rows_highlight_the_better_value(pair: tuple[Trace, Trace]) -> None:
    diff = diff_traces(*pair)
    rows = {label: (a, b, change) for label, a, b, change in summary_rows(diff.a, diff.b)}
    latency_a, latency_b, change = rows["Latency"]
    assert (latency_a.plain, latency_b.plain) == ("800 ms", "500 ms")
    assert latency_b.style == BETTER_STYLE
    assert latency_a.style == ""
    assert change.plain == "-300 ms (-38%)"
    tokens_a, tokens_b, change = rows["Total tokens"]
    assert tokens_a.style == BETTER_STYLE
    assert tokens_b.style == ""
    assert change.plain == "+2 (+12%)"
    assert rows["Prompt tokens"][0].style == rows["Prompt tokens"][1].style == ""
    assert rows["Model"][2].plain == "≠"
    assert "First chunk" not in rows  # neither streamed


async def test_diff_screen_shows_changed_word_and_similarity(
    store: TraceStore, pair: tuple[Trace, Trace]
) -> None:
    a, b = pair
    app = HostApp(store, a.id, b.id[:8])  # a prefix is enough
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        assert screen.diff is not None
        assert screen.diff.b.id == b.id

        answer_a, answer_b = content(app, "#diff-answer-a"), content(app, "#diff-answer-b")
        assert isinstance(answer_a, Text)
        assert isinstance(answer_b, Text)
        assert answer_a.plain == "The capital of France is Paris."
        assert styled(answer_a, DELETED_STYLE) == ["Paris."]
        assert styled(answer_b, INSERTED_STYLE) == ["Lyon."]

        similarity = content(app, "#diff-similarity")
        assert isinstance(similarity, Text)
        percent = f"{screen.diff.similarity:.0%}"
        assert f"Answer similarity  {percent}" in similarity.plain
        assert 0.7 < screen.diff.similarity < 1

        assert isinstance(content(app, "#diff-summary"), Table)
        structure = content(app, "#diff-structure")
        assert isinstance(structure, Text)
        assert '~ request.model: "gpt-4o-mini" → "gpt-4o"' in structure.plain
        assert "+ request.temperature: 0.2" in structure.plain
        assert not screen.query_one("#diff-status", Static).display

        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, DiffScreen)


async def test_missing_trace_shows_error(store: TraceStore, pair: tuple[Trace, Trace]) -> None:
    app = HostApp(store, pair[0].id, "ffff")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = content(app, "#diff-status")
        assert isinstance(status, Text)
        assert status.plain.startswith(f"Cannot compare {pair[0].id} and ffff")
        assert not app.screen.query_one("#diff-answers").display
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DiffScreen)


def test_snapshot_diff(snap_compare: Any, store: TraceStore, pair: tuple[Trace, Trace]) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = HostApp(store, pair[0].id, pair[1].id)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
