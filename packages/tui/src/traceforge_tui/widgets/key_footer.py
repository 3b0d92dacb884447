"""Textual's key footer, recomposed once per change of the keys it shows.

Textual's :class:`~textual.widgets.Footer` rebuilds all its keys (a widget each, each
restyled) after every ``bindings_updated`` signal of its screen, and a screen publishes one
for each focus change and each ``refresh_bindings()`` call: opening a trace's detail published
about ten, and rebuilding the footer ten times was about 40% of the CPU time of opening it
(``bench/tui_scale.py``, profiled with cProfile). :class:`KeyFooter` draws the same keys, but
signals that arrive before its rebuild share it, and a rebuild is skipped when the keys shown
(key, description, enabled) did not change.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """The screen's key bindings, as :class:`~textual.widgets.Footer` shows them, rebuilt only
    when they change."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = False
        self._shown: tuple[tuple[str, str, bool], ...] | None = None

    def _keys(self) -> tuple[tuple[str, str, bool], ...]:
        """What the footer shows: ``(key, description, enabled)`` of each shown binding."""
        return tuple(
            (binding.key, binding.description, bool(enabled))
            for _node, binding, enabled, _tooltip in self.screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Rebuild once after the next refresh (however many signals come before it)."""
        self._bindings_ready = True
        if not screen.app.app_focus or self._pending:
            return
        if self.is_attached and screen is self.screen:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        keys = self._keys()
        if keys != self._shown:
            self._shown = keys
            await self.recompose()
