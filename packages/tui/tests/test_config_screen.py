"""The config screen driven through Textual's pilot: validation, atomic save, discard prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App
from textual.binding import Binding, BindingType
from textual.widgets import Static, TextArea

from traceforge_shared.config import DEFAULT_CONFIG_YAML, ConfigError, load_config
from traceforge_shared.configfile import write_config
from traceforge_tui.screens.config import ConfigScreen, DiscardChangesScreen

SIZE = (120, 40)

ORIGINAL = "# my settings\nproxy:\n  port: 9000\n"
INVALID = "# my settings\nproxy:\n  port: abc\n"
VALID = "# my settings\nproxy:\n  port: 9100\n"


class HostApp(App[None]):
    """A bare app that opens the config screen over a blank screen (``q`` quits, as in the
    real app)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home

    def on_mount(self) -> None:
        self.push_screen(ConfigScreen(self.home))


def editor_of(app: App[Any]) -> TextArea:
    return app.screen.query_one("#config-editor", TextArea)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def text_of(app: App[Any], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


async def test_invalid_value_is_refused_then_valid_value_saved(home: Path) -> None:
    config = home / "config.yaml"
    config.write_bytes(ORIGINAL.encode())
    app = HostApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        editor = editor_of(app)
        assert editor.text == ORIGINAL
        assert not screen.query_one("#config-error", Static).display

        editor.text = INVALID
        editor.move_cursor((0, 0))
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = screen.query_one("#config-error", Static)
        assert error.display
        message = text_of(app, "#config-error")
        assert "line 3" in message
        assert "proxy.port" in message
        assert "Expected `int`" in message
        assert editor.cursor_location == (2, 2)  # on the offending line
        assert config.read_bytes() == ORIGINAL.encode()  # byte-for-byte unchanged
        assert files_in(home) == ["config.yaml"]  # no temp file left
        assert "modified" in text_of(app, "#config-status")

        editor.text = VALID
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not error.display
        assert config.read_text(encoding="utf-8") == VALID  # comments kept
        assert config.stat().st_mode & 0o777 == 0o600  # the shared writer's mode
        assert load_config(config).proxy.port == 9100
        assert files_in(home) == ["config.yaml"]
        status = text_of(app, "#config-status")
        assert "saved" in status
        assert "modified" not in status
        assert screen.saved_text == VALID

        await pilot.press("escape")  # nothing unsaved: straight back
        await pilot.pause()
        assert not isinstance(app.screen, ConfigScreen)


async def test_typed_invalid_value_shows_line(home: Path) -> None:
    """Typing (not setting text) into the editor reaches the validation the same way."""
    config = home / "config.yaml"
    config.write_bytes(b"proxy:\n  port: 1\n")
    app = HostApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor = editor_of(app)
        editor.move_cursor((1, 9))  # after "  port: 1"
        await pilot.press("backspace", "q", "b", "c")  # q is typed, not the app's Quit
        assert app.is_running
        assert editor.text == "proxy:\n  port: qbc\n"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "line 2" in text_of(app, "#config-error")
        assert config.read_bytes() == b"proxy:\n  port: 1\n"


async def test_missing_file_shows_defaults_and_save_creates_it(home: Path) -> None:
    config = home / "config.yaml"
    app = HostApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert editor_of(app).text == DEFAULT_CONFIG_YAML
        assert "not created yet" in text_of(app, "#config-status")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert config.read_text(encoding="utf-8") == DEFAULT_CONFIG_YAML
        assert "not created yet" not in text_of(app, "#config-status")


async def test_invalid_yaml_in_missing_home_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "absent"
    app = HostApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor_of(app).text = "proxy: [unclosed\n"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "invalid YAML" in text_of(app, "#config-error")
        assert not home.exists()


async def test_escape_with_changes_asks_before_discarding(home: Path) -> None:
    config = home / "config.yaml"
    config.write_bytes(ORIGINAL.encode())
    app = HostApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        editor_of(app).text = VALID
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardChangesScreen)
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert isinstance(app.screen, ConfigScreen)
        assert editor_of(app).text == VALID

        await pilot.press("escape")
        await pilot.pause()
        await pilot.click("#discard-yes")
        await pilot.pause()
        assert not isinstance(app.screen, (ConfigScreen, DiscardChangesScreen))
    assert config.read_bytes() == ORIGINAL.encode()


async def test_unreadable_file_is_read_only(home: Path) -> None:
    config = home / "config.yaml"
    config.write_bytes(b"proxy:\n  host: \xff\n")
    app = HostApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert editor_of(app).read_only
        assert "Cannot read" in text_of(app, "#config-error")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert config.read_bytes() == b"proxy:\n  host: \xff\n"


def test_the_config_writer_makes_it_0600_and_refuses_invalid(home: Path) -> None:
    # The screen saves with the shared writer: every config file written is 0600 (it was
    # 0640 here before), an invalid text leaves the file as it was.
    config = home / "config.yaml"
    config.write_text(ORIGINAL, encoding="utf-8")
    config.chmod(0o640)
    with pytest.raises(ConfigError) as info:
        write_config(config, INVALID)
    assert info.value.line == 3
    assert info.value.path == config
    assert info.value.describe("config.yaml").startswith("config.yaml line 3: proxy.port: ")
    assert config.read_text(encoding="utf-8") == ORIGINAL
    write_config(config, VALID)
    assert config.read_text(encoding="utf-8") == VALID
    assert config.stat().st_mode & 0o777 == 0o600
    assert files_in(home) == ["config.yaml"]


def test_snapshot_config_error(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    home = Path(".ai-tests")
    home.mkdir()
    (home / "config.yaml").write_text(ORIGINAL, encoding="utf-8")
    monkeypatch.setattr(ConfigScreen, "LANGUAGE", None)  # same look with or without tree-sitter

    async def run_before(pilot: Any) -> None:
        await pilot.pause()
        editor = editor_of(pilot.app)
        editor.text = INVALID
        await pilot.press("ctrl+s")
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(HostApp(home), terminal_size=SIZE, run_before=run_before)
