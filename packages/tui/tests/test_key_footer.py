"""The key footer (one widget drawing every key): the keys shown, hidden bindings left out,
clicks pressing keys, disabled keys, fitting 80 columns, and following screen changes."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace
from traceforge_tui import TraceForgeApp, make_app
from traceforge_tui.screens.stream_replay import StreamReplayScreen
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.screens.trace_list import TraceListScreen
from traceforge_tui.widgets.conversation import ConversationView
from traceforge_tui.widgets.key_footer import KeyFooter

from .helpers import settle, wait_until
from .sample import PLAIN, SIZE, STREAM
from .screen import screen_lines


async def open_detail(pilot: Pilot[Any], trace_id: str) -> TraceDetailScreen:
    """Push the detail of ``trace_id`` over the list and wait for the trace."""
    app = pilot.app
    assert isinstance(app, TraceForgeApp)
    await settle(pilot)
    screen = TraceDetailScreen(app.store, trace_id)
    await app.push_screen(screen)
    await wait_until(pilot, lambda: screen.trace is not None, what="the trace read")
    await settle(pilot)
    return screen


def footer_of(screen: Screen[Any]) -> KeyFooter:
    return screen.query_one(KeyFooter)


async def click_key(pilot: Pilot[Any], footer: KeyFooter, label: str) -> None:
    """Click the middle of ``label`` (a key's description) in ``footer``."""
    x = footer.plain.index(label) + len(label) // 2
    assert await pilot.click(footer, offset=(x, 0))
    await settle(pilot)


async def test_detail_keys_are_shown_in_the_footer_line(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_detail(pilot, STREAM)
        footer = footer_of(screen)
        shown = [(key.display, key.description) for key in footer.keys]
        assert shown[:8] == [
            ("esc", "Back"),
            ("r", "Replay"),
            ("m", "Raw/Markdown"),
            ("n", "Save as test"),
            ("y", "Copy id"),
            ("x", "Delete"),
            ("e", "Edit & send"),
            ("M", "Other model"),
        ]
        assert footer.palette is not None and footer.palette.display == "^p"
        last = screen_lines(app)[-1]
        assert last == footer.plain
        assert last.startswith(" esc Back  r Replay  m Raw/Markdown  n Save as test ")
        assert last.rstrip().endswith("▏^p palette")


async def test_bindings_with_show_false_are_not_shown(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        listing = footer_of(app.screen)
        hidden = {
            binding.key
            for _node, binding, _enabled, _tooltip in app.screen.active_bindings.values()
            if not binding.show
        }
        assert {"R", "S", "question_mark"} <= hidden  # the app's show=False keys
        assert not hidden & {key.key for key in listing.keys}
        assert "Runs" not in listing.plain and "Help" not in listing.plain

        screen = await open_detail(pilot, STREAM)
        keys = [key.key for key in footer_of(screen).keys]
        assert "escape" in keys and "q" not in keys  # q (Back, show=False) stays hidden


async def test_clicking_a_key_runs_its_action(store: TraceStore, traces: dict[str, Trace]) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, STREAM)
        view = screen.query_one(ConversationView)
        assert not view.raw

        await click_key(pilot, footer_of(screen), "Raw/Markdown")
        assert view.raw
        await click_key(pilot, footer_of(screen), "Raw/Markdown")
        assert not view.raw

        await click_key(pilot, footer_of(screen), "Replay")
        assert isinstance(app.screen, StreamReplayScreen)
        await click_key(pilot, footer_of(app.screen), "Back")
        assert app.screen is screen

        await click_key(pilot, footer_of(screen), "Back")
        assert isinstance(app.screen, TraceListScreen)


async def test_a_disabled_key_is_dimmed_and_a_click_does_not_run_it(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, PLAIN)  # not streamed: nothing to replay
        footer = footer_of(screen)
        replay = next(key for key in footer.keys if key.action == "replay")
        assert not replay.enabled
        line = footer.render()
        start = line.plain.index("r Replay")
        assert any(
            span.start <= start < span.end and "dim" in str(span.style) for span in line.spans
        )

        await click_key(pilot, footer, "Replay")
        assert app.screen is screen  # no replay pushed


async def test_the_footer_follows_screen_changes(
    store: TraceStore, traces: dict[str, Trace]
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert " / Filter " in screen_lines(app)[-1]

        await open_detail(pilot, STREAM)
        assert " r Replay " in screen_lines(app)[-1]
        assert " / Filter " not in screen_lines(app)[-1]

        await pilot.press("escape")
        await settle(pilot)
        assert " / Filter " in screen_lines(app)[-1]


#: What the footer line shows at 80 columns: the keys that fit, whole; the palette key.
AT_80 = {
    "list": " / Filter  s Sort  space Mark  d Diff marked  r Reload  q Quit",
    "detail": " esc Back  r Replay  m Raw/Markdown  n Save as test  y Copy id",
}


@pytest.mark.parametrize("screen_name", ["list", "detail"])
async def test_at_80_columns_whole_keys_fit_and_the_palette_stays(
    store: TraceStore, traces: dict[str, Trace], screen_name: str
) -> None:
    app = make_app(store, poll_interval=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        if screen_name == "detail":
            await open_detail(pilot, STREAM)
        footer = footer_of(app.screen)
        line = screen_lines(app)[-1]
        assert line == footer.plain
        assert line == AT_80[screen_name].ljust(68) + "▏^p palette "
        assert len(footer.keys) > AT_80[screen_name].count("  ") + 1  # some were left out

        await pilot.resize_terminal(160, 45)
        await settle(pilot)
        wide = screen_lines(app)[-1]
        assert len(wide) == 160 and wide.endswith("▏^p palette ")
        assert " ^t Theme " in wide  # all the keys fit at 160


class _Keys(Screen[None]):
    """A screen with a shown key, a hidden key and one that counts presses."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "count", "Count"),
        Binding("h", "count", "Hidden", show=False),
        Binding("z", "other", "Other"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.other_allowed = True

    def compose(self) -> ComposeResult:
        yield Static("keys")
        yield KeyFooter()

    def action_count(self) -> None:
        self.count += 1

    def action_other(self) -> None:
        """Nothing."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``other`` is disabled while :attr:`other_allowed` is false."""
        return None if action == "other" and not self.other_allowed else True


class _ScreenApp(App[None]):
    """An app showing one screen (made at mount)."""

    def __init__(self, screen: type[Screen[None]]) -> None:
        super().__init__()
        self._screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._screen())


class _NoPaletteApp(_ScreenApp):
    ENABLE_COMMAND_PALETTE = False


async def test_one_key_per_action_and_hover_highlights_it() -> None:
    app = _ScreenApp(_Keys)
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, _Keys)
        footer = footer_of(screen)
        assert [(key.key, key.description) for key in footer.keys] == [
            ("k", "Count"),
            ("z", "Other"),
        ]
        assert "Hidden" not in footer.plain

        x = footer.plain.index("Count")
        await pilot.hover(footer, offset=(x, 0))
        await pilot.pause()
        assert footer.hovered == "k"
        await pilot.hover(footer, offset=(footer.plain.index("Other"), 0))
        await pilot.pause()
        assert footer.hovered == "z"

        await pilot.click(footer, offset=(x, 0))
        await pilot.pause()
        assert screen.count == 1


async def test_a_binding_update_repaints_the_changed_key() -> None:
    app = _ScreenApp(_Keys)
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, _Keys)
        footer = footer_of(screen)
        assert [key.enabled for key in footer.keys] == [True, True]

        screen.other_allowed = False
        screen.refresh_bindings()
        await pilot.pause()
        assert [key.enabled for key in footer.keys] == [True, False]
        line = footer.render()
        other = line.plain.index("z Other")
        assert any(
            span.start <= other < span.end and "dim" in str(span.style) for span in line.spans
        )


class _Crowded(Screen[None]):
    """More keys than 40 columns hold, the way back bound last."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "noop('a')", "Alpha"),
        Binding("b", "noop('b')", "Bravo"),
        Binding("c", "noop('c')", "Charlie"),
        Binding("d", "noop('d')", "Delta"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("crowded")
        yield KeyFooter()

    def action_noop(self, key: str) -> None:
        """Nothing."""


async def test_when_keys_are_left_out_the_way_back_stays() -> None:
    app = _NoPaletteApp(_Crowded)
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        line = footer_of(app.screen).plain
        assert line.rstrip() == " a Alpha  b Bravo  c Charlie  esc Back"  # d left out
        await pilot.resize_terminal(80, 5)
        await pilot.pause()
        wide = footer_of(app.screen).plain
        assert wide.rstrip() == " a Alpha  b Bravo  c Charlie  d Delta  esc Back"
