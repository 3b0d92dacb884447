"""The configuration editor: ``<home>/config.yaml`` in a text area, validated before it is saved.

Keys: ``ctrl+s`` validates and saves, ``Esc`` goes back (asking first when there are unsaved
changes). Saving is :func:`traceforge_shared.configfile.write_config` (validated, atomic, mode
``0600``), as in ``traceforge init`` and the web API. An invalid file is never written: the
error names the line and field, and the cursor moves to that line.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Header, Static, TextArea
from textual.widgets.text_area import LanguageDoesNotExist

from traceforge_shared.config import DEFAULT_CONFIG_YAML, ConfigError, config_path
from traceforge_shared.configfile import write_config
from traceforge_tui import formatting as fmt
from traceforge_tui.widgets.key_footer import KeyFooter

#: Shown under the editor.
HELP_TEXT = (
    "ctrl+s validates and saves (an invalid file is never written) · Esc goes back · "
    "restart the proxy to apply changes"
)


class DiscardChangesScreen(ModalScreen[bool]):
    """Asks whether to drop unsaved edits; dismisses with ``True`` to discard them.

    Keys: ``y``/``d`` discard, ``n``/``Esc`` keep editing.
    """

    DEFAULT_CSS = """
    DiscardChangesScreen {
        align: center middle;
    }
    #discard-dialog {
        width: 60;
        height: auto;
        padding: 1 2;
        border: thick $warning;
        background: $surface;
    }
    #discard-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    #discard-buttons Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,d", "discard", "Discard"),
        Binding("n,escape", "keep", "Keep editing"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="discard-dialog"):
            yield Static("config.yaml has unsaved changes. Discard them?", id="discard-message")
            with Horizontal(id="discard-buttons"):
                yield Button("Keep editing", id="discard-keep")
                yield Button("Discard", id="discard-yes", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button: discard (``True``) or keep editing (``False``)."""
        self.dismiss(event.button.id == "discard-yes")

    def action_discard(self) -> None:
        """Drop the changes."""
        self.dismiss(True)

    def action_keep(self) -> None:
        """Go back to the editor."""
        self.dismiss(False)


class ConfigScreen(Screen[None]):
    """Edit ``<home>/config.yaml``; a missing file shows :data:`DEFAULT_CONFIG_YAML`, which
    ``ctrl+s`` creates.

    Args:
        home: the TraceForge home holding ``config.yaml``.

    Attributes:
        path: the config file.
        saved_text: the text as last read or saved (what "unsaved changes" compares with).
    """

    #: TextArea language for highlighting; dropped silently when the syntax extras
    #: (tree-sitter) are not installed.
    LANGUAGE: ClassVar[str | None] = "yaml"

    DEFAULT_CSS = """
    ConfigScreen #config-status {
        height: auto;
        padding: 0 1;
    }
    ConfigScreen #config-error {
        height: auto;
        padding: 0 1;
        color: $error;
        border-left: thick $error;
        margin: 0 1;
    }
    ConfigScreen #config-editor {
        height: 1fr;
    }
    ConfigScreen #config-help {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "back", "Back", priority=True),
    ]

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home
        self.path = config_path(home)
        self.exists = False
        self.read_error: str | None = None
        self.saved_text = self._read()

    def _read(self) -> str:
        """The file's text, :data:`DEFAULT_CONFIG_YAML` when it does not exist, ``""`` (and
        :attr:`read_error` set) when it cannot be read."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return DEFAULT_CONFIG_YAML
        except (OSError, UnicodeDecodeError) as exc:
            self.read_error = f"Cannot read {fmt.shown_path(self.path)}: {exc}"
            return ""
        self.exists = True
        return text

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="config-status")
        yield Static(id="config-error")
        yield TextArea.code_editor(
            self.saved_text,
            id="config-editor",
            theme="css",
            read_only=self.read_error is not None,
        )
        yield Static(HELP_TEXT, id="config-help")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.path.name
        editor = self.editor
        if self.LANGUAGE is not None:
            with contextlib.suppress(LanguageDoesNotExist):
                editor.language = self.LANGUAGE
        error = self.query_one("#config-error", Static)
        if self.read_error is not None:
            error.update(self.read_error)
        else:
            error.display = False
        self._update_status()
        editor.focus()

    @property
    def editor(self) -> TextArea:
        """The text area holding the file's text."""
        return self.query_one("#config-editor", TextArea)

    @property
    def dirty(self) -> bool:
        """Whether the editor holds changes not saved yet."""
        return self.editor.text != self.saved_text

    def _update_status(self, note: str = "") -> None:
        text = Text(fmt.shown_path(self.path), style="bold")
        if not self.exists:
            text.append("  not created yet: the defaults are shown; ctrl+s creates it")
        if self.dirty:
            text.append("  modified", style="yellow")
        if note:
            text.append(f"  {note}", style="green")
        self.query_one("#config-status", Static).update(text)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """An edit: show whether there are unsaved changes."""
        self._update_status()

    def action_save(self) -> None:
        """Validate the text and save it atomically when valid; otherwise show the error,
        move the cursor to its line and write nothing."""
        if self.read_error is not None:
            self.notify(self.read_error, severity="error")
            return
        error = self.query_one("#config-error", Static)
        text = self.editor.text
        try:
            write_config(self.path, text)
        except ConfigError as exc:
            message = f"Not saved: {exc.describe(self.path.name)}"
            error.update(message)
            error.display = True
            self._update_status()
            if exc.line is not None:
                self._go_to_line(exc.line)
            self.notify(message, severity="error", title="Invalid config")
            return
        except OSError as exc:
            message = f"Not saved: cannot write {fmt.shown_path(self.path)}: {exc}"
            error.update(message)
            error.display = True
            self.notify(message, severity="error")
            return
        self.saved_text = text
        self.exists = True
        error.display = False
        self._update_status("saved")
        self.notify(f"Saved {fmt.shown_path(self.path)}", title="Config")

    def _go_to_line(self, line: int) -> None:
        """Put the cursor on the first character of 1-based ``line`` (the cursor line is
        highlighted) and focus the editor."""
        editor = self.editor
        row = min(max(line, 1), editor.document.line_count) - 1
        content = editor.document.get_line(row)
        column = len(content) - len(content.lstrip())
        editor.move_cursor((row, column), center=True)
        editor.focus()

    def action_back(self) -> None:
        """Leave the screen, asking first when there are unsaved changes."""
        if not self.dirty:
            self.dismiss()
            return

        def decided(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        self.app.push_screen(DiscardChangesScreen(), decided)
