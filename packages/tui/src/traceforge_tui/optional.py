"""Screens imported when first opened: dashboard, config, tests and diff.

They live in their own modules (``traceforge_tui.screens.<name>``) and are imported lazily, so
the rest of the UI works while one of them is missing or broken: opening it then shows a
notification instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import Screen

#: A screen class: called with the arguments its module documents.
ScreenFactory = Callable[..., Screen[Any]]


def screen_class(module: str, name: str) -> ScreenFactory | None:
    """Return the screen class ``name`` of ``traceforge_tui.screens.<module>``, or ``None``
    when that module or class cannot be imported."""
    try:
        found = getattr(importlib.import_module(f"traceforge_tui.screens.{module}"), name)
    except Exception:  # missing, or broken while it is being written: the rest still works
        return None
    if isinstance(found, type) and issubclass(found, Screen):
        factory: ScreenFactory = found
        return factory
    return None


def open_screen(app: App[Any], module: str, name: str, label: str, *args: object) -> bool:
    """Push ``name(*args)`` from ``traceforge_tui.screens.<module>`` on ``app``; when it is
    not available, notify ``"<label> is not available yet"``. Returns whether it was pushed.

    Opening a screen that is already the current one does nothing.
    """
    cls = screen_class(module, name)
    if cls is None:
        app.notify(f"{label} is not available yet", severity="warning")
        return False
    if isinstance(cls, type) and isinstance(app.screen, cls):
        return False
    app.push_screen(cls(*args))
    return True
