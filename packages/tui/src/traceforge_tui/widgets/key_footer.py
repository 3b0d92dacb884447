"""The key bindings of a screen on one line at its bottom, drawn by one widget.

Textual's :class:`~textual.widgets.Footer` mounts a widget per key (each styled on mount and
restyled by its ``compact`` watcher) and recomposes them all after every ``bindings_updated``
signal of its screen: a screen publishes one per focus change and per ``refresh_bindings()``
call. Opening a trace's detail paid for about 14 key widgets each time (``bench/tui_scale.py``,
profiled with cProfile; docs/performance.md). :class:`KeyFooter` draws the same keys as one
line of :class:`~textual.content.Content`: it recomputes them once per batch of signals and
repaints only when the keys shown (key, description, enabled) changed.

What it shows, as Textual's Footer (textual 8, ``textual/widgets/_footer.py``): the screen's
active bindings with ``show=True``, one per action (the first binding of each), in the order
of ``Screen.active_bindings``, each as `` key description `` (the key as
``App.get_key_display`` spells it); a disabled binding (``check_action`` returned ``None``)
dimmed; the command palette's key docked on the right after a thin separator. Keys that do
not fit are left out whole, last first, ``escape`` (the way back) last of all (the palette
key always stays). Clicking a key presses
it (``App.simulate_key``, an ``@click`` action link, as Footer's keys do on mouse down); a
disabled key rings the bell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style as RichStyle
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.style import Style
from textual.widget import Widget


@dataclass(frozen=True)
class ShownKey:
    """One key of the footer.

    Attributes:
        key: the binding's key as Textual names it (``escape``, ``ctrl+p``, ``M``).
        display: the key as shown (``esc``, ``^p``, ``M``).
        description: what the key does (the binding's description; may be empty).
        action: the binding's action (``back``, ``app.quit``).
        enabled: ``False`` when the screen's ``check_action`` disables the action for now.
    """

    key: str
    display: str
    description: str
    action: str
    enabled: bool

    @property
    def click(self) -> str:
        """The ``@click`` action of the key: press it, or ring the bell when disabled."""
        return f"app.simulate_key({self.key!r})" if self.enabled else "app.bell"


def shown_keys(screen: Screen[object]) -> tuple[tuple[ShownKey, ...], ShownKey | None]:
    """The keys a footer of ``screen`` shows: the shown bindings (one per action, in
    ``screen.active_bindings`` order) and the command palette's key (``None`` when the app has
    no command palette or its key is not active)."""
    app = screen.app
    keys: dict[str, ShownKey] = {}
    active = screen.active_bindings
    for _node, binding, enabled, _tooltip in active.values():
        if binding.show and binding.action not in keys:
            keys[binding.action] = _shown(app, binding, enabled)
    palette = None
    if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
        _node, binding, enabled, _tooltip = active[app.COMMAND_PALETTE_BINDING]
        palette = _shown(app, binding, enabled)
    return tuple(keys.values()), palette


def _shown(app: App[object], binding: Binding, enabled: bool | None) -> ShownKey:
    display = app.get_key_display(binding)
    return ShownKey(binding.key, display, binding.description, binding.action, bool(enabled))


class KeyFooter(Widget, can_focus=False):
    """The shown key bindings of its screen, on one line docked at the bottom (see the module
    docstring). :attr:`keys` and :attr:`palette` are what it shows; :attr:`plain` the line as
    text."""

    ALLOW_SELECT = False
    #: The keys keep their own colours: no link colour or underline over them.
    auto_links = False

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-footer--key",
        "key-footer--description",
        "key-footer--separator",
        "key-footer--hover",
    }

    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
        color: $footer-foreground;
        background: $footer-background;
        pointer: pointer;
        .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-footer--separator {
            color: $foreground 20%;
        }
        .key-footer--hover {
            background: $block-hover-background;
        }
    }
    """

    #: The key under the mouse (its ``key``), highlighted; ``""`` for none.
    hovered: reactive[str] = reactive("")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.keys: tuple[ShownKey, ...] = ()
        self.palette: ShownKey | None = None
        self._pending = False
        self._line: tuple[object, Content] | None = None

    def on_mount(self) -> None:
        """Show the screen's keys and follow its binding updates."""
        self.keys, self.palette = shown_keys(self.screen)
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        """Stop following the screen's binding updates."""
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Look at the keys again after the next refresh (once, however many signals come
        before it)."""
        if not screen.app.app_focus or self._pending:
            return
        if self.is_attached and screen is self.screen:
            self._pending = True
            self.call_after_refresh(self._update_keys)

    def _update_keys(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        keys, palette = shown_keys(self.screen)
        if (keys, palette) != (self.keys, self.palette):
            self.keys, self.palette = keys, palette
            self.refresh()

    def watch_hover_style(self, previous_hover_style: RichStyle, hover_style: RichStyle) -> None:
        """Highlight the key under the mouse (Textual sets ``hover_style`` to the style of
        the cell under it; each key's cells carry its name in their meta)."""
        hovered = hover_style.meta.get("footer_key", "") if hover_style._meta else ""
        self.hovered = hovered if isinstance(hovered, str) else ""

    def _key_content(self, key: ShownKey, *, lead: str = " ") -> Content:
        """``<lead>key description `` with its styles and ``@click`` action."""
        link = Style.from_meta({"@click": key.click, "footer_key": key.key})
        key_style = self.get_visual_style("key-footer--key", partial=True)
        parts: list[tuple[str, Style]] = [(f"{lead}{key.display} ", key_style)]
        if key.description:
            description_style = self.get_visual_style("key-footer--description", partial=True)
            parts.append((f"{key.description} ", description_style))
        content = Content.assemble(*parts)
        if key.key == self.hovered:
            content = content.stylize(self.get_visual_style("key-footer--hover", partial=True))
        if not key.enabled:
            content = content.stylize(Style(dim=True))
        return content.stylize(link)

    def render(self) -> Content:
        """The keys that fit in the width, left to right, and the palette key on the right
        (the same line again while the keys, width, hovered key and theme are the same)."""
        width = self.size.width
        key = (width, self.keys, self.palette, self.hovered, self.app.theme)
        if self._line is None or self._line[0] != key:
            self._line = (key, self._line_of(width))
        return self._line[1]

    def _line_of(self, width: int) -> Content:
        right = Content("")
        if self.palette is not None:
            separator = self.get_visual_style("key-footer--separator", partial=True)
            palette = self._key_content(self.palette, lead="")
            right = Content.assemble(("▏", separator), palette)
        room = max(0, width - right.cell_length)
        items = [(key, self._key_content(key)) for key in self.keys]
        used = sum(item.cell_length for _, item in items)
        while used > room and items:  # drop the last key, the way back last of all
            at = next(
                (i for i in range(len(items) - 1, -1, -1) if items[i][0].key != "escape"),
                len(items) - 1,
            )
            used -= items.pop(at)[1].cell_length
        left = [item for _, item in items]
        return Content.assemble(*left, " " * (room - used), right)

    @property
    def plain(self) -> str:
        """The line as shown, as plain text (for tests)."""
        return self.render().plain
