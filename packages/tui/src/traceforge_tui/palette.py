"""The command palette (``ctrl+p``): every app action, and traces opened by id.

:func:`app_commands` lists the app's actions as Textual system commands (screens, help, the
test-traffic toggle, the theme, filter presets, quit); :class:`TraceIdCommands` offers "Open
trace <id>" for each trace whose id starts with the hex digits typed (the store's index, at
most :data:`MAX_ID_HITS`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import Hit, Hits, Provider

from traceforge_shared.store import Condition, StoreError, TraceFilter

if TYPE_CHECKING:
    from traceforge_tui.app import TraceForgeApp

__all__ = ["FILTER_PRESETS", "MAX_ID_HITS", "TraceIdCommands", "app_commands"]

#: Filters offered in the palette: ``(name, filter text)`` (docs/filters.md).
FILTER_PRESETS: tuple[tuple[str, str], ...] = (
    ("failed calls", "status:error"),
    ("slow calls (over 2 s)", "latency:>2s"),
    ("costly calls (over $0.01)", "cost:>0.01"),
    ("the last hour", "since:1h"),
    ("test runs", "source:test"),
    ("streamed calls", "type:stream"),
    ("none (every trace)", ""),
)

#: Most traces the palette offers for an id prefix.
MAX_ID_HITS = 8
#: Fewest hex digits before the palette looks traces up.
MIN_ID_DIGITS = 3

_HEX = re.compile(r"^[0-9a-f]+$")


def app_commands(app: TraceForgeApp) -> Iterator[SystemCommand]:
    """The palette entries of the app's own actions, each naming its key."""
    entries: list[tuple[str, str, Callable[[], object]]] = [
        ("Help: keys", "Every key of every screen (?)", app.action_help),
        ("Open dashboard", "Calls, errors, latency and cost over time (a)", app.action_dashboard),
        ("Open tests", "The regression tests of this home (t)", app.action_tests),
        ("Open config", "View and edit config.yaml (c)", app.action_config),
        ("Open trace list", "Back to the list of traces", app.action_trace_list),
        (
            "Show test traffic" if app.hide_test_traffic else "Hide test traffic",
            "Calls made by `traceforge test run` in the list and the dashboard (x)",
            app.action_toggle_test_traffic,
        ),
        (
            "Theme: light" if app.current_theme.dark else "Theme: dark",
            "Switch between the dark and the light theme, remembered (ctrl+t)",
            app.action_toggle_theme,
        ),
        ("Quit", "Quit TraceForge (q)", app.action_quit),
    ]
    for name, text in FILTER_PRESETS:
        shown = text or "clear the filter"
        entries.append((f"Filter: {name}", shown, partial(app.apply_filter, text)))
    for title, help_text, callback in entries:
        yield SystemCommand(title, help_text, callback)


class TraceIdCommands(Provider):
    """ "Open trace <id>" for the traces whose id starts with the hex digits typed."""

    async def search(self, query: str) -> Hits:
        """Look the prefix up in the store's index (in a thread)."""
        prefix = query.strip().lower()
        if len(prefix) < MIN_ID_DIGITS or not _HEX.match(prefix):
            return
        app = self.app
        store = getattr(app, "store", None)
        open_trace = getattr(app, "open_trace", None)
        if store is None or open_trace is None:
            return
        filters = TraceFilter(conditions=(Condition("id", "prefix", prefix),))
        try:
            found = await asyncio.to_thread(store.list, filters, limit=MAX_ID_HITS)
        except (StoreError, OSError):
            return
        matcher = self.matcher(prefix)
        for summary in found:
            title = f"Open trace {summary.id}"
            yield Hit(
                max(matcher.match(title), 0.5),
                matcher.highlight(title),
                partial(open_trace, summary.id),
                help=" · ".join(
                    (summary.model or summary.endpoint, summary.status, summary.timestamp)
                ),
            )
