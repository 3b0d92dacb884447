"""The regression tests of a TraceForge home: the files under ``<home>/tests``, run as replays.

Keys: ``Enter`` runs the selected test, ``R`` runs them all, ``r`` re-reads the files, ``Esc``
goes back. A run here is offline: each test is checked against the trace it was recorded
from (:func:`traceforge_shared.evals.replay.replay_tests`); nothing is sent to a model. Live
runs are ``traceforge test run``. Every run is saved with
:class:`~traceforge_shared.evals.results.ResultStore`, like the CLI's.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from traceforge_shared.evals.files import find_test_files, read_test_file, tests_dir
from traceforge_shared.evals.loader import TestFileError
from traceforge_shared.evals.replay import load_error_result, replay_tests
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.evals.testcase import TestCase, TestResult, TestRun
from traceforge_shared.store import StoreError, TraceStore
from traceforge_tui import formatting as fmt
from traceforge_tui.widgets.key_footer import KeyFooter
from traceforge_tui.workers import deferred

#: Column labels of the test table, in order.
COLUMNS: tuple[str, ...] = ("Test", "File", "Tags", "File status", "Result")

#: Says what a run on this screen is.
REPLAY_NOTE = (
    "Runs here are offline replays: each test is checked against its recorded trace, and "
    "nothing is sent to a model. For live runs use `traceforge test run`."
)

#: Colour of each result status.
RESULT_STYLE: dict[str, str] = {"passed": "green", "failed": "red", "error": "red"}


@dataclass
class TestEntry:
    """One test file as listed.

    Attributes:
        path: the file.
        case: the test, when the file loaded.
        error: why the file did not load.
        result: its result in the latest run of this screen.
    """

    __test__ = False  # not a pytest test class

    path: Path
    case: TestCase | None = None
    error: TestFileError | None = None
    result: TestResult | None = None

    @property
    def name(self) -> str:
        """The test's name, or the file name when the file is invalid."""
        return self.case.name if self.case is not None else self.path.name


def load_entries(paths: Sequence[Path]) -> list[TestEntry]:
    """Load each test file in ``paths``, keeping the load error of each invalid one."""
    entries: list[TestEntry] = []
    for path in paths:
        _, case, error = read_test_file(path)
        entries.append(TestEntry(path, case=case, error=error))
    return entries


def discover_entries(home: Path) -> list[TestEntry]:
    """Every test file under ``<home>/tests``, subfolders included (none when there is no
    folder), loaded: the files the CLI and the web API see
    (:func:`traceforge_shared.evals.files.find_test_files`)."""
    return load_entries(find_test_files(home))


def result_cell(result: TestResult | None) -> Text:
    """The Result column of a test: its status, coloured, or ``-`` before any run."""
    if result is None:
        return Text("-", style="dim")
    return Text(result.status, style=RESULT_STYLE.get(result.status, ""))


def load_error_text(error: TestFileError, shown_path: str) -> str:
    """``file line 12: assertions[1].max_ms: reason`` (the path as ``shown_path``)."""
    return error.describe(shown_path)


class TestsScreen(Screen[None]):
    """The test files of ``home`` in a table, with the selected one's details and results.

    Args:
        store: the trace store replays read recordings from.
        home: the TraceForge home (tests under ``<home>/tests``, results under
            ``<home>/results``).
    """

    __test__ = False  # not a pytest test class

    DEFAULT_CSS = """
    TestsScreen #tests-note {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    TestsScreen #tests-table {
        height: auto;
        max-height: 50%;
    }
    TestsScreen #tests-empty {
        height: auto;
        padding: 1 2;
        color: $text-muted;
    }
    TestsScreen #tests-summary {
        height: auto;
        padding: 0 1;
        text-style: bold;
    }
    TestsScreen #tests-detail-pane {
        height: 1fr;
        padding: 0 1;
        border-top: solid $accent;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "run_selected", "Run selected", priority=True),
        Binding("R", "run_all", "Run all"),
        Binding("r", "reload", "Reload files"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, store: TraceStore, home: Path) -> None:
        super().__init__()
        self.store = store
        self.home = home
        self.tests_dir = tests_dir(home)
        self.entries: dict[str, TestEntry] = {}
        self.running = False
        self.last_run: TestRun | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(REPLAY_NOTE, id="tests-note")
        yield DataTable(id="tests-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="tests-empty")
        yield Static(id="tests-summary")
        with VerticalScroll(id="tests-detail-pane"):
            yield Static(id="tests-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = fmt.shown_path(self.tests_dir)
        for column in COLUMNS:
            self.table.add_column(column, key=column)
        self.query_one("#tests-empty", Static).display = False
        self.query_one("#tests-summary", Static).display = False
        self.action_reload()

    @property
    def table(self) -> DataTable[str | Text]:
        """The table of test files (row keys: the files' paths)."""
        return self.query_one("#tests-table", DataTable)

    def shown_path(self, path: Path) -> str:
        """``path`` relative to the tests directory when it is inside it."""
        try:
            return str(path.relative_to(self.tests_dir))
        except ValueError:
            return fmt.shown_path(path)

    # Listing

    def action_reload(self) -> None:
        """Re-read the test files (in a worker)."""
        if self.running:
            self.notify("A run is in progress.", severity="warning")
            return
        self.run_worker(deferred(self._load), group="tests-load", exclusive=True)

    async def _load(self) -> None:
        try:
            entries = await asyncio.to_thread(discover_entries, self.home)
        except OSError as exc:
            entries = []
            self.notify(f"Cannot read {fmt.shown_path(self.tests_dir)}: {exc}", severity="error")
        previous = self.entries
        for entry in entries:
            old = previous.get(str(entry.path))
            if old is not None:
                entry.result = old.result
        self._show_entries(entries)

    def _show_entries(self, entries: list[TestEntry]) -> None:
        table = self.table
        selected = self.selected_key()
        self.entries = {str(entry.path): entry for entry in entries}
        table.clear()
        for entry in entries:
            table.add_row(*self._cells(entry), key=str(entry.path))
        empty = self.query_one("#tests-empty", Static)
        empty.update(
            f"No test files in {fmt.shown_path(self.tests_dir)}.\n\n"
            "Make one from a recorded trace: traceforge test create-from-trace <trace id>"
        )
        empty.display = not entries
        table.display = bool(entries)
        if selected is not None and selected in self.entries:
            table.move_cursor(row=table.get_row_index(selected))
        invalid = sum(entry.case is None for entry in entries)
        count = f"{len(entries)} test file{'s' if len(entries) != 1 else ''}"
        self.sub_title = f"{fmt.shown_path(self.tests_dir)} · {count}" + (
            f", {invalid} invalid" if invalid else ""
        )
        self._show_detail()

    def _cells(self, entry: TestEntry) -> tuple[str | Text, ...]:
        valid = (
            Text("valid", style="green") if entry.case is not None else Text("invalid", style="red")
        )
        tags = ", ".join(entry.case.tags) if entry.case is not None else ""
        return (
            entry.name,
            self.shown_path(entry.path),
            tags or "-",
            valid,
            result_cell(entry.result),
        )

    def selected_key(self) -> str | None:
        """The path (as text) of the file under the cursor, if any."""
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if isinstance(key, str) else None

    # Details

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The cursor moved: show that test's details."""
        self._show_detail()

    def _show_detail(self) -> None:
        key = self.selected_key()
        entry = self.entries.get(key) if key is not None else None
        detail = self.query_one("#tests-detail", Static)
        detail.update(self.detail_text(entry) if entry is not None else "")

    def detail_text(self, entry: TestEntry) -> Text:
        """What is known of ``entry``: its description and tags, its load error, or its
        latest result with each assertion's message."""
        text = Text()
        text.append(entry.name, style="bold")
        if self.shown_path(entry.path) != entry.name:
            text.append(f"\n{self.shown_path(entry.path)}", style="dim")
        case = entry.case
        if case is not None:
            if case.description:
                text.append(f"\n{case.description}")
            if case.tags:
                text.append(f"\nTags: {', '.join(case.tags)}")
            text.append(f"\nAssertions: {len(case.assertions)}")
        if entry.error is not None:
            text.append("\n\nInvalid test file\n", style="bold red")
            text.append(load_error_text(entry.error, self.shown_path(entry.path)), style="red")
            return text
        result = entry.result
        if result is None:
            text.append("\n\nNot run yet: Enter replays it, R replays every test.", style="dim")
            return text
        text.append("\n\n")
        text.append(result.status.upper(), style=f"bold {RESULT_STYLE.get(result.status, '')}")
        if result.trace_id:
            text.append(f"  replayed trace {result.trace_id}", style="dim")
        if result.error:
            text.append(f"\n{result.error}", style="red")
        for assertion in result.assertions:
            mark, style = ("✓", "green") if assertion.passed else ("✗", "red")
            text.append(f"\n{mark} ", style=f"bold {style}")
            text.append(f"{assertion.type}: ", style="bold")
            text.append(assertion.message, style="" if assertion.passed else style)
            if assertion.description:
                text.append(f" ({assertion.description})", style="dim")
        return text

    # Running

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """A row chosen with the mouse: replay that test."""
        event.stop()
        self.action_run_selected()

    def action_run_selected(self) -> None:
        """Replay the test under the cursor."""
        key = self.selected_key()
        if key is None:
            self.notify("No test file to run.", severity="warning")
            return
        self._start_run([Path(key)])

    def action_run_all(self) -> None:
        """Replay every listed test."""
        if not self.entries:
            self.notify("No test files to run.", severity="warning")
            return
        self._start_run([entry.path for entry in self.entries.values()])

    def _start_run(self, paths: list[Path]) -> None:
        if self.running:
            self.notify("A run is in progress.", severity="warning")
            return
        self.running = True
        for path in paths:
            if str(path) in self.entries:
                self.table.update_cell(str(path), "Result", Text("running", style="yellow"))
        self.run_worker(self._run(paths), group="tests-run")

    async def _run(self, paths: list[Path]) -> None:
        """Re-read the files (edits since the listing count), replay the valid ones, add the
        invalid ones as ``error`` results, save the run and show it."""
        summary = self.query_one("#tests-summary", Static)
        try:
            loaded = await asyncio.to_thread(load_entries, paths)
            for entry in loaded:
                self._replace_entry(entry)
            cases = [(entry.path, entry.case) for entry in loaded if entry.case is not None]
            replayed = await replay_tests(cases, self.store, on_result=self._record_result)
            by_file = {result.file: result for result in replayed.results}
            results: list[TestResult] = []
            for entry in loaded:
                if entry.error is not None:
                    result = load_error_result(entry.error)
                    self._record_result(result)
                    results.append(result)
                else:
                    results.append(by_file[str(entry.path)])
            replayed.results = results
            saved = await asyncio.to_thread(ResultStore(self.home).save, replayed)
        except (StoreError, OSError, sqlite3.Error) as exc:
            summary.update(Text(f"Run failed: {exc}", style="red"))
            summary.display = True
            self._reset_running_cells()
            return
        finally:
            self.running = False
        self.last_run = replayed
        line = Text(f"Replay run {replayed.id}: ")
        line.append(f"{replayed.passed} passed", style="green")
        line.append(", ")
        line.append(f"{replayed.failed} failed", style="red" if replayed.failed else "")
        line.append(", ")
        errors = f"{replayed.errors} error" + ("" if replayed.errors == 1 else "s")
        line.append(errors, style="red" if replayed.errors else "")
        line.append(f" · saved to {self.shown_home_path(saved)}", style="dim")
        summary.update(line)
        summary.display = True
        self._show_detail()

    def shown_home_path(self, path: Path) -> str:
        """``path`` relative to the home when it is inside it."""
        try:
            return str(path.relative_to(self.home))
        except ValueError:
            return fmt.shown_path(path)

    def _replace_entry(self, entry: TestEntry) -> None:
        key = str(entry.path)
        if key not in self.entries:
            return
        entry.result = self.entries[key].result
        self.entries[key] = entry
        for column, cell in zip(COLUMNS, self._cells(entry), strict=True):
            if column != "Result":
                self.table.update_cell(key, column, cell, update_width=True)

    def _record_result(self, result: TestResult) -> None:
        """One test finished: show its status in the table (and its details if selected)."""
        entry = self.entries.get(result.file)
        if entry is None:
            return
        entry.result = result
        self.table.update_cell(result.file, "Result", result_cell(result), update_width=True)
        if self.selected_key() == result.file:
            self._show_detail()

    def _reset_running_cells(self) -> None:
        for key, entry in self.entries.items():
            self.table.update_cell(key, "Result", result_cell(entry.result))
