"""The light commands stay light: ``traceforge --help``, ``--version`` and ``trace list`` import
no provider SDK, TUI, proxy, web API or heavy evaluation dependency.

Each command runs in a fresh interpreter (this test process has imported everything already)
which then prints the names of the modules it imported.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from traceforge_cli.main import COMMANDS, LazyCommand, LazyGroup, cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

#: Top-level packages the light commands must not import.
HEAVY = (
    "openai",
    "anthropic",
    "google.genai",
    "textual",
    "textual_serve",
    "traceforge_tui",
    "traceforge_proxy",
    "aiohttp",
    "traceforge_web_api",
    "starlette",
    "uvicorn",
    "watchfiles",
    "deepdiff",
    "jsonschema",
    "rapidfuzz",
    "genai_prices",
    "junitparser",
)

_PROBE = """
import json, sys
from traceforge_cli.main import cli
try:
    cli(sys.argv[1:], prog_name="traceforge")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stderr.write("\\nMODULES " + json.dumps([code, sorted(sys.modules)]) + "\\n")
"""


def _imported(home: Path, *args: str) -> tuple[str, set[str]]:
    """Run ``traceforge *args`` in a new interpreter: its stdout and the modules it imported."""
    env = {"TRACEFORGE_HOME": str(home), "COLUMNS": "120", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    marker = result.stderr.rsplit("MODULES ", 1)
    assert len(marker) == 2, result.stderr
    code, modules = json.loads(marker[1])
    assert code in (0, None), result.stderr + result.stdout
    return result.stdout, set(modules)


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["trace", "--help"]])
def test_help_and_version_import_nothing_heavy(home: Path, args: list[str]) -> None:
    out, modules = _imported(home, *args)
    assert out.strip()
    assert _heavy(modules) == []
    if args[0] != "trace":
        # --help and --version load no command and do not even read the store or the config.
        assert not any(m.startswith("traceforge_cli.commands.") for m in modules)
        assert "traceforge_shared.store" not in modules
        assert not any(m == "ruamel" or m.startswith("ruamel.") for m in modules)


def test_trace_list_imports_nothing_heavy(home: Path) -> None:
    store = TraceStore(home, fsync=False)
    now = time.time()
    saved = [make_trace(model="gpt-4o", epoch_s=now - 60 * i, text=f"answer {i}") for i in range(3)]
    for trace in saved:
        store.save(trace)
    out, modules = _imported(home, "trace", "list")
    assert all(trace.id[:8] in out for trace in saved), out
    assert "traceforge_cli.commands.trace" in modules
    assert _heavy(modules) == []


def test_help_lists_every_command_with_its_docstring() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:", 1)[1]
    for name, lazy in COMMANDS.items():
        assert f"  {name}  " in commands
        assert lazy.short_help.split(".")[0] in commands


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_stored_short_help_matches_the_command(name: str) -> None:
    command = COMMANDS[name].load()
    assert command.name == name
    first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert COMMANDS[name].short_help == " ".join(first_paragraph.split())


def test_get_command_loads_once_and_unknown_is_an_error() -> None:
    group = LazyGroup(
        "g", lazy={"demo": LazyCommand("traceforge_cli.commands.demo", "demo", "Demo.")}
    )
    ctx = click.Context(group)
    first = group.get_command(ctx, "demo")
    assert isinstance(first, click.Command)
    assert group.get_command(ctx, "demo") is first
    assert group.get_command(ctx, "nope") is None
    assert group.list_commands(ctx) == ["demo"]
    result = CliRunner().invoke(cli, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.output


def test_lazy_command_must_be_a_click_command() -> None:
    with pytest.raises(TypeError, match="not a click command"):
        LazyCommand("traceforge_cli.main", "COMMANDS", "x").load()


def test_help_of_a_loaded_command_uses_its_own_short_help() -> None:
    group = LazyGroup("g", lazy={"x": LazyCommand("m", "x", "Stored text.")})
    group.add_command(click.Command("x", help="Real text."))
    result = CliRunner().invoke(group, ["--help"])
    assert "Real text." in result.output and "Stored text." not in result.output
