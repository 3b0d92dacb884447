"""Helpers of the TUI's pilot tests: waiting for workers and reading what widgets show."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import App
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DataTable, Static


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and their messages be handled (twice: a result may start more)."""
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], *, within: float = 5.0, what: str = ""
) -> None:
    """Pause until ``condition()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)
        await asyncio.sleep(0)


def row_ids(table: DataTable[Any]) -> list[str | None]:
    """The row keys of ``table``, top to bottom."""
    return [row.key.value for row in table.ordered_rows]


def row_texts(table: DataTable[Any], index: int) -> list[str]:
    """The plain text of the cells of row ``index``."""
    return [str(cell) for cell in table.get_row_at(index)]


def static_text(app: App[Any], selector: str) -> str:
    """The plain text a Static of the current screen shows."""
    content = app.screen.query_one(selector, Static).content
    if isinstance(content, Text | Content):
        return content.plain
    return str(content)


def notifications(app: App[Any]) -> list[str]:
    """The messages of the notifications shown so far."""
    return [notification.message for notification in app._notifications]
