"""``traceforge ui``: the app on the chosen home, or served to a browser with ``--web``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

cli_main = pytest.importorskip("traceforge_cli.main")

from click.testing import CliRunner  # noqa: E402 (after the skip)

from traceforge_tui import TraceForgeApp  # noqa: E402


class FakeServer:
    """Stands in for ``textual_serve.server.Server``."""

    made: list[FakeServer] = []

    def __init__(self, command: str, *, host: str, port: int, title: str, **options: Any) -> None:
        self.command, self.host, self.port, self.title = command, host, port, title
        self.options = options
        self.served = False
        FakeServer.made.append(self)

    def serve(self) -> None:
        self.served = True


def test_ui_runs_the_app_on_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    homes: list[Path] = []

    def run(app: TraceForgeApp, **kwargs: Any) -> None:
        homes.append(app.store.home)

    monkeypatch.setattr(TraceForgeApp, "run", run)
    home = tmp_path / "home"
    result = CliRunner().invoke(cli_main.cli, ["--home", str(home), "ui"])
    assert result.exit_code == 0, result.output
    assert homes == [home]

    monkeypatch.setenv("TRACEFORGE_HOME", str(tmp_path / "env"))
    assert CliRunner().invoke(cli_main.cli, ["ui"]).exit_code == 0
    assert homes[-1] == tmp_path / "env"


def test_ui_web_serves_the_same_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("textual_serve.server.Server", FakeServer)
    FakeServer.made.clear()
    home = tmp_path / "home"
    result = CliRunner().invoke(
        cli_main.cli, ["ui", "--home", str(home), "--web", "--port", "8123"]
    )
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123" in result.output
    (server,) = FakeServer.made
    assert server.served
    assert (server.host, server.port, server.title) == ("127.0.0.1", 8123, "TraceForge")
    assert shlex.split(server.command) == [
        sys.executable,
        "-m",
        "traceforge_cli.main",
        "--home",
        str(home.resolve()),
        "ui",
    ]
    assert Path(server.options["templates_path"]).name == "web_templates"  # TraceForge's page

    FakeServer.made.clear()
    assert CliRunner().invoke(cli_main.cli, ["ui", "--web"]).exit_code == 0
    assert FakeServer.made[0].port == 8000
    assert CliRunner().invoke(cli_main.cli, ["ui", "--web", "--port", "0"]).exit_code == 2


def test_ui_help_lists_the_keys() -> None:
    result = CliRunner().invoke(cli_main.cli, ["ui", "--help"])
    assert result.exit_code == 0
    assert "--web" in result.output
    assert "--port" in result.output
    assert "r replay a stream" in result.output
