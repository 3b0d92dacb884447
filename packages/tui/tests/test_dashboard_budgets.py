"""The dashboard's "Budgets" panel, driven through Textual's pilot at 80x24: shown when
config.yaml has budgets, with each one's spend this period; absent otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import Static

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_tui.screens.dashboard import DashboardScreen

SMALL = (80, 24)
#: 2026-11-23T08:00:00Z, the store's "now".
NOW_EPOCH = 1795420800.0
NOW = datetime.fromtimestamp(NOW_EPOCH, tz=UTC)
CONFIG = """\
budgets:
  - {name: daily-usd, limit_usd: 0.05, action: block}
  - {name: claude-month, limit_tokens: 1000, period: month, provider: anthropic}
  - {name: gpt-4o, limit_tokens: 100000, model: 'gpt-4o*'}
  - {name: nightly, limit_tokens: 500, tag: nightly}
"""


class HostApp(App[None]):
    def __init__(self, store: TraceStore) -> None:
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen(self.store, now=NOW))


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "home", fsync=False)


async def _panel(store: TraceStore) -> Text | None:
    """The panel's text at 80x24, ``None`` when it is not displayed."""
    app = HostApp(store)
    async with app.run_test(size=SMALL) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        panel = app.screen.query_one("#dashboard-budgets", Static)
        if not panel.display:
            return None
        assert panel.region.width <= SMALL[0]
        assert panel.region.height == len(str(panel.content).splitlines())  # no wrapping
        assert isinstance(panel.content, Text)
        return panel.content


async def test_panel_shows_each_budget(store: TraceStore) -> None:
    store.home.mkdir(parents=True, exist_ok=True)
    (store.home / "config.yaml").write_text(CONFIG)
    priced = make_trace(epoch_s=NOW_EPOCH - 60)
    priced.metadata.cost_usd = 0.045
    claude = make_trace(provider="anthropic", model="claude-sonnet-4-5", epoch_s=NOW_EPOCH - 60)
    claude.metadata.cost_usd = 0.001
    store.save_many([priced, claude, make_trace(epoch_s=NOW_EPOCH - 2 * 86400)])
    panel = await _panel(store)
    assert panel is not None
    lines = panel.plain.splitlines()
    assert lines == [
        "Budgets",
        "  daily-usd              92%  $0.0460 of $0.05  per day, block",
        "  claude-month            2%  15 of 1,000 tok  per month, warn",
        "  gpt-4o                  0%  15 of 100,000 tok  per day, warn",
        "  …and 1 more: traceforge budget status",
    ]
    assert all(len(line) <= SMALL[0] - 2 for line in lines)
    styles = {span.style for span in panel.spans}
    assert "yellow" in styles  # 92%: past the 80% alert


async def test_no_panel_without_budgets(store: TraceStore) -> None:
    store.save(make_trace(epoch_s=NOW_EPOCH - 60))
    assert await _panel(store) is None
