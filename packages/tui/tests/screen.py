"""Reading what the terminal shows in pilot tests: the screen's lines as plain text."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widget import Widget


def screen_lines(app: App[Any]) -> list[str]:
    """The lines the current screen shows, as plain text (what a person sees in the terminal,
    clipped to its width)."""
    app.screen._compositor.reflow(app.screen, app.size)  # the layout of the last refresh
    return [strip.text for strip in app.screen._compositor.render_strips()]


def widget_lines(app: App[Any], widget: Widget) -> list[str]:
    """The lines of the screen inside ``widget``'s visible region, as plain text."""
    region = widget.content_region
    lines = screen_lines(app)[region.y : region.bottom]
    return [line[region.x : region.right] for line in lines]
