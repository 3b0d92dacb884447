"""The filter bar's error line and new keys, the ``?`` help, the command palette's app
commands, the remembered theme and the test-traffic toggle (issue #20)."""

from __future__ import annotations

from typing import Any

import msgspec
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Static

from traceforge_shared.config import config_path, load_config
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui import make_app
from traceforge_tui.app import LIGHT_THEME
from traceforge_tui.screens.dashboard import DashboardScreen
from traceforge_tui.screens.help import HelpScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.screens.trace_list import TraceListScreen
from traceforge_tui.widgets.filter_bar import FilterBar

from .helpers import row_ids, settle, static_text, wait_until
from .sample import BASE_EPOCH, ERROR, SIZE


def _table_ids(app: Any) -> list[str | None]:
    return row_ids(app.screen.query_one("#traces"))


async def _filter(pilot: Pilot[Any], text: str) -> None:
    bar = pilot.app.screen.query_one("#filter", FilterBar)
    bar.value = text
    await pilot.press("slash", "enter")
    await settle(pilot)


async def test_a_typo_key_shows_an_error_line_not_a_text_search(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _filter(pilot, "modle:gpt-4o")
        line = static_text(app, "#filter-error")
        assert "unknown filter key 'modle' (did you mean 'model'?)" in line
        assert len(_table_ids(app)) == len(traces)  # the old filter (none) still applies
        bar = app.screen.query_one("#filter", FilterBar)
        assert bar.error is not None

        bar.value = "model:gpt-4o"  # fixed while typing: the line goes
        await pilot.pause()
        assert not app.screen.query_one("#filter-error", Static).display
        await pilot.press("enter")
        await settle(pilot)
        assert {traces[i].model for i in _table_ids(app) if i} == {"gpt-4o"}


async def test_new_filter_keys_in_the_list(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _filter(pilot, "model:~4o")
        assert {traces[i].model for i in _table_ids(app) if i} == {"gpt-4o", "gpt-4o-mini"}
        await _filter(pilot, "status:error")
        assert _table_ids(app) == [ERROR]
        await _filter(pilot, f"id:{ERROR[:6]}")
        assert _table_ids(app) == [ERROR]


async def test_question_mark_lists_every_screens_keys(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = static_text(app, "#help-keys")
        assert "Trace list (this screen)" in text
        for section in ("Anywhere", "Trace detail", "Dashboard", "Tests", "Config"):
            assert section in text
        for line in ("Dashboard", "Hide/show test traffic", "Filter", "latency:>500"):
            assert line in text
        await pilot.press("escape")
        assert isinstance(app.screen, TraceListScreen)

        await pilot.press("a")
        await settle(pilot)
        await pilot.press("question_mark")
        assert "Dashboard (this screen)" in static_text(app, "#help-keys")


async def _palette(pilot: Pilot[Any], query: str) -> list[str]:
    """Open the palette, type ``query``, return the titles of the commands it offers."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*query)
    options = pilot.app.screen.query_one(CommandList)
    await wait_until(pilot, lambda: options.option_count > 0, what="palette hits")
    await settle(pilot)
    prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
    return [prompt.splitlines()[0] for prompt in prompts]


async def test_the_palette_lists_app_commands(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "Open dashboard",
            "Open tests",
            "Open config",
            "Help: keys",
            "Hide test traffic",
            "Theme: light",
            "Filter: failed calls",
            "Quit",
        ):
            assert title in titles
        offered = await _palette(pilot, "dashboard")
        assert "Open dashboard" in offered
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)

        await pilot.press("escape")
        offered = await _palette(pilot, "failed calls")
        assert offered[0] == "Filter: failed calls"
        await pilot.press("enter")
        await settle(pilot)
        assert _table_ids(app) == [ERROR]
        assert app.screen.query_one("#filter", FilterBar).value == "status:error"


async def test_the_palette_opens_a_trace_by_id(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        offered = await _palette(pilot, ERROR[:6])
        assert offered == [f"Open trace {ERROR}"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceDetailScreen)
        assert app.screen.trace_id == ERROR


async def test_the_theme_is_remembered_across_restarts(store: TraceStore) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        assert app.theme == LIGHT_THEME
    assert load_config(config_path(store.home)).tui.theme == LIGHT_THEME
    again = make_app(store)
    async with again.run_test(size=SIZE) as pilot:
        assert again.theme == LIGHT_THEME
        assert not again.current_theme.dark


async def test_the_theme_survives_an_invalid_config(store: TraceStore) -> None:
    path = config_path(store.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("proxy: [not, a, mapping]\n")
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        assert app.theme == LIGHT_THEME  # switched, but not remembered: said so
        assert any("cannot remember the setting" in n.message for n in app._notifications)
    assert path.read_text() == "proxy: [not, a, mapping]\n"


async def test_test_traffic_is_hidden_by_the_toggle_and_remembered(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    made = make_trace(model="gpt-4o", epoch_s=BASE_EPOCH + 3600)
    test_call = msgspec.structs.replace(made, meta={"source": "test"})
    store.save(test_call)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert test_call.id in _table_ids(app)
        await pilot.press("H")
        await settle(pilot)
        assert test_call.id not in _table_ids(app)
        assert len(_table_ids(app)) == len(traces)
        assert app.screen.sub_title is not None
        assert "test traffic hidden" in app.screen.sub_title
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Show test traffic" in titles
    again = make_app(store)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert again.hide_test_traffic
        assert test_call.id not in _table_ids(again)
        await pilot.press("H")
        await settle(pilot)
        assert test_call.id in _table_ids(again)
