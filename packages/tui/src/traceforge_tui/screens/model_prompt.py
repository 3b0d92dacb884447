"""Ask for a model name (the playground's shadow run: the same request on another model)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ModelPrompt(ModalScreen[str | None]):
    """Ask for a model; dismissed with the name typed (``Enter``, stripped) or ``None``
    (``Esc``, or nothing typed).

    Args:
        current: the request's model, shown and pre-filled.
    """

    DEFAULT_CSS = """
    ModelPrompt { align: center middle; }
    ModelPrompt #model-dialog {
        width: 64; height: auto; border: round $accent; padding: 1 2; background: $surface;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        """The question and the input."""
        with Vertical(id="model-dialog"):
            yield Static(
                f"Run the same request on another model (now {self.current}); the proxy "
                "routes it by name: gpt-*, claude-*, gemini-*, ...",
                id="model-question",
            )
            yield Input(value=self.current, placeholder="model", id="model-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter answers."""
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Esc: no model."""
        self.dismiss(None)
