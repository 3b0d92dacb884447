"""The application: factory, themes, global keys, the lazily imported screens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen

from traceforge_shared.store import TraceStore
from traceforge_tui import TraceForgeApp, make_app, optional
from traceforge_tui.app import DARK_THEME, LIGHT_THEME
from traceforge_tui.screens.trace_list import ListSettings, TraceListScreen

from .helpers import notifications, settle
from .sample import SIZE


class FakeScreen(Screen[None]):
    """Stands in for a screen another module provides; remembers its arguments."""

    def __init__(self, *args: Any) -> None:
        super().__init__()
        self.args = args


def test_make_app_returns_the_app(store: TraceStore) -> None:
    app = make_app(store, page_size=50, poll_interval=2.0, replay_speed=3.0)
    assert isinstance(app, TraceForgeApp)
    assert app.store is store
    assert app.settings == ListSettings(page_size=50, poll_interval=2.0, replay_speed=3.0)


async def test_ctrl_t_switches_dark_and_light(store: TraceStore) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TraceListScreen)
        assert app.theme == DARK_THEME
        await pilot.press("ctrl+t")
        assert app.theme == LIGHT_THEME
        assert not app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.theme == DARK_THEME
    light = make_app(store, theme=LIGHT_THEME)
    async with light.run_test(size=SIZE):
        assert light.theme == LIGHT_THEME


async def test_missing_screens_are_reported(
    store: TraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(optional, "screen_class", lambda module, name: None)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "c", "t")
        assert isinstance(app.screen, TraceListScreen)
        assert notifications(app) == [
            "The dashboard is not available yet",
            "The config view is not available yet",
            "The tests view is not available yet",
        ]


@pytest.mark.parametrize(
    ("key", "module", "name", "args"),
    [
        ("a", "dashboard", "DashboardScreen", lambda store: (store,)),
        ("c", "config", "ConfigScreen", lambda store: (store.home,)),
        ("t", "tests", "TestsScreen", lambda store: (store, store.home)),
    ],
)
async def test_global_keys_open_their_screens(
    store: TraceStore,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    module: str,
    name: str,
    args: Any,
) -> None:
    asked: list[tuple[str, str]] = []

    def fake(module: str, name: str) -> type[Screen[Any]]:
        asked.append((module, name))
        return FakeScreen

    monkeypatch.setattr(optional, "screen_class", fake)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        screen = app.screen
        assert isinstance(screen, FakeScreen)
        assert screen.args == args(store)
        assert asked == [(module, name)]
        await pilot.press(key)  # already open: not pushed twice
        assert len(app.screen_stack) == 2


def test_screen_class_of_a_missing_module() -> None:
    assert optional.screen_class("no_such_screen", "NoSuchScreen") is None
    assert optional.screen_class("trace_list", "TraceListScreen") is TraceListScreen
    assert optional.screen_class("trace_list", "PAGE_SIZE") is None


async def test_q_quits(store: TraceStore, tmp_path: Path) -> None:
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running
