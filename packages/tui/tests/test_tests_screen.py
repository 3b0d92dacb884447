"""The tests screen driven through Textual's pilot: listing, replay runs, saved results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Static

from traceforge_shared.evals.authoring import test_from_trace as make_test_yaml
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui.screens.tests import COLUMNS, REPLAY_NOTE, TestsScreen

SIZE = (120, 40)
#: 2026-11-23T08:00:00Z.
BASE_EPOCH = 1795420800.0

INVALID_TEST = """\
name: broken
request: {model: gpt-4o, messages: [{role: user, content: hi}]}
assertions:
  - type: latency
    max_ms: soon
"""

#: A valid test whose assertion fails against the recording (the answer does not say it).
FAILING_TEST = """\
name: mentions Paris
tags: [geo]
request: {model: gpt-4o-mini, messages: [{role: user, content: Say hello}], stream: false}
assertions:
  - type: contains
    value: Paris
"""


class HostApp(App[None]):
    """A bare app that opens the tests screen over a blank screen."""

    def __init__(self, store: TraceStore, home: Path) -> None:
        super().__init__()
        self.store = store
        self.home = home

    def on_mount(self) -> None:
        self.push_screen(TestsScreen(self.store, self.home))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> TraceStore:
    return TraceStore(home, fsync=False)


@pytest.fixture
def recorded(store: TraceStore) -> Trace:
    trace = make_trace(
        text="The sky looks blue because of Rayleigh scattering of sunlight.",
        epoch_s=BASE_EPOCH,
        latency_ms=400.0,
    )
    store.save(trace)
    return trace


def write_tests(home: Path, trace: Trace, *, invalid: bool = True, failing: bool = False) -> None:
    tests = home / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    (tests / "sky.yaml").write_text(make_test_yaml(trace, name="sky is blue"), encoding="utf-8")
    if invalid:
        (tests / "broken.yaml").write_text(INVALID_TEST, encoding="utf-8")
    if failing:
        (tests / "paris.yaml").write_text(FAILING_TEST, encoding="utf-8")


def table_of(app: App[Any]) -> DataTable[Any]:
    return app.screen.query_one("#tests-table", DataTable)


def row(table: DataTable[Any], key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


def static_text(app: App[Any], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def wait_for_run(pilot: Any, screen: TestsScreen) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert not screen.running


async def test_lists_valid_and_invalid_files(
    store: TraceStore, home: Path, recorded: Trace
) -> None:
    write_tests(home, recorded)
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TestsScreen)
        table = table_of(app)
        assert [str(c.label) for c in table.ordered_columns] == list(COLUMNS)
        sky, broken = str(home / "tests" / "sky.yaml"), str(home / "tests" / "broken.yaml")
        assert [r.key.value for r in table.ordered_rows] == [broken, sky]
        assert row(table, sky) == ["sky is blue", "sky.yaml", "-", "valid", "-"]
        assert row(table, broken) == ["broken.yaml", "broken.yaml", "-", "invalid", "-"]
        assert static_text(app, "#tests-note") == REPLAY_NOTE
        assert "traceforge test run" in REPLAY_NOTE
        assert "1 invalid" in str(screen.sub_title)

        # The cursor starts on the invalid file: its load error is shown, with line and field.
        detail = static_text(app, "#tests-detail")
        assert "Invalid test file" in detail
        assert "broken.yaml line 5: assertions[0].max_ms: Expected `float`" in detail


async def test_enter_replays_selected_test_and_saves_result(
    store: TraceStore, home: Path, recorded: Trace
) -> None:
    write_tests(home, recorded)
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TestsScreen)
        sky = str(home / "tests" / "sky.yaml")
        await pilot.press("down", "enter")
        await wait_for_run(pilot, screen)
        table = table_of(app)
        assert row(table, sky)[-1] == "passed"
        result_cell = table.get_row(sky)[-1]
        assert isinstance(result_cell, Text)
        assert result_cell.style == "green"
        assert row(table, str(home / "tests" / "broken.yaml"))[-1] == "-"  # not run

        detail = static_text(app, "#tests-detail")
        assert "PASSED" in detail
        assert f"replayed trace {recorded.id}" in detail
        assert "✓ contains: " in detail
        assert "✓ fuzzy: " in detail
        assert "✓ latency: " in detail
        summary = static_text(app, "#tests-summary")
        assert "1 passed, 0 failed, 0 errors" in summary

        run = ResultStore(home).latest()
        assert run is not None
        assert run.mode == "replay"
        assert [(r.name, r.status) for r in run.results] == [("sky is blue", "passed")]
        assert screen.last_run is not None
        assert screen.last_run.id == run.id
        assert f"results/{run.id}.json" in summary


async def test_run_all_includes_failures_and_invalid_files(
    store: TraceStore, home: Path, recorded: Trace
) -> None:
    write_tests(home, recorded, failing=True)
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TestsScreen)
        await pilot.press("R")
        await wait_for_run(pilot, screen)
        table = table_of(app)
        tests = home / "tests"
        assert row(table, str(tests / "sky.yaml"))[-1] == "passed"
        assert row(table, str(tests / "paris.yaml"))[-1] == "failed"
        assert row(table, str(tests / "broken.yaml"))[-1] == "error"
        assert "1 passed, 1 failed, 1 error" in static_text(app, "#tests-summary")

        await pilot.press("down")  # paris.yaml (files sort by name)
        await pilot.pause()
        detail = static_text(app, "#tests-detail")
        assert "FAILED" in detail
        assert "✗ contains: " in detail
        assert "Tags: geo" in detail

        run = ResultStore(home).latest()
        assert run is not None
        assert [r.status for r in run.results] == ["error", "failed", "passed"]


async def test_run_rereads_edited_file(store: TraceStore, home: Path, recorded: Trace) -> None:
    write_tests(home, recorded, invalid=False)
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TestsScreen)
        sky = home / "tests" / "sky.yaml"
        sky.write_text(INVALID_TEST, encoding="utf-8")  # broken after it was listed
        await pilot.press("enter")
        await wait_for_run(pilot, screen)
        assert row(table_of(app), str(sky)) == ["sky.yaml", "sky.yaml", "-", "invalid", "error"]


async def test_no_recording_is_an_error(home: Path, store: TraceStore) -> None:
    other = make_trace(text="an answer", epoch_s=BASE_EPOCH)  # never saved
    write_tests(home, other, invalid=False)
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TestsScreen)
        await pilot.press("enter")
        await wait_for_run(pilot, screen)
        assert row(table_of(app), str(home / "tests" / "sky.yaml"))[-1] == "error"
        assert "no recording for this request" in static_text(app, "#tests-detail")


async def test_no_tests_dir_shows_how_to_make_one(home: Path, store: TraceStore) -> None:
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not table_of(app).display
        empty = app.screen.query_one("#tests-empty", Static)
        assert empty.display
        assert "create-from-trace" in str(empty.content)
        await pilot.press("R")  # nothing to run
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert ResultStore(home).latest() is None

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TestsScreen)


async def test_reload_picks_up_new_files(store: TraceStore, home: Path, recorded: Trace) -> None:
    app = HostApp(store, home)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        write_tests(home, recorded)
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table_of(app).row_count == 2


def test_snapshot_after_run(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = Path(".ai-tests")
    store = TraceStore(home, fsync=False)
    trace = make_trace(
        text="The sky looks blue because of Rayleigh scattering of sunlight.",
        epoch_s=BASE_EPOCH,
        latency_ms=400.0,
    )
    trace.id = "5ca1ab1e0000000000000001"
    store.save(trace)
    write_tests(home, trace, failing=True)
    monkeypatch.setattr(
        "traceforge_shared.evals.replay.new_run_id", lambda: "20261123T080000-abcdef"
    )

    async def run_before(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("R")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("down", "down")  # sky.yaml
        await pilot.pause()

    assert snap_compare(HostApp(store, home), terminal_size=SIZE, run_before=run_before)
