"""``traceforge config check``, and every command that loads a bad config reporting all of
its problems at once."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from traceforge_cli.main import cli

BAD = """\
proxy:
  prot: 8787
  port: 0
upstreams:
  openai:
    base_url: not a url
    models: ['']
storge: {}
"""


def write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.yaml"
    path.write_text(text)
    return path


def test_check_lists_every_problem_and_exits_1(home: Path) -> None:
    path = write_config(home, BAD)
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:2: proxy.prot: unknown field; did you mean 'port'?",
        f"{path}:6: upstreams.openai.base_url: not a URL: 'not a url'"
        " (write e.g. https://api.openai.com/v1)",
        f"{path}:7: upstreams.openai.models[0]: empty pattern (write e.g. 'gpt-*')",
        f"{path}:8: storge: unknown field; did you mean 'storage'?",
    ]
    assert "4 problems" in result.stderr


def test_check_json(home: Path) -> None:
    path = write_config(home, BAD)
    result = CliRunner().invoke(cli, ["config", "check", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["path"] == str(path) and report["exists"] and not report["ok"]
    assert [(p["line"], p["field"]) for p in report["problems"]] == [
        (2, "proxy.prot"),
        (6, "upstreams.openai.base_url"),
        (7, "upstreams.openai.models[0]"),
        (8, "storge"),
    ]


def test_check_ok_missing_and_invalid_yaml(home: Path) -> None:
    missing = CliRunner().invoke(cli, ["config", "check", "--json"])
    assert missing.exit_code == 0
    assert json.loads(missing.stdout)["ok"] and not json.loads(missing.stdout)["exists"]
    write_config(home, "proxy:\n  port: 9000\nupstreams:\n  ollama: {base_url: 'http://h:1'}\n")
    good = CliRunner().invoke(cli, ["config", "check"])
    assert good.exit_code == 0 and good.stdout.endswith(": ok\n")
    write_config(home, "proxy: [\n")
    broken = CliRunner().invoke(cli, ["config", "check"])
    assert broken.exit_code == 2
    assert "invalid YAML" in broken.stdout


def test_any_command_loading_the_config_reports_all_problems(home: Path) -> None:
    path = write_config(home, BAD)
    (home / "notes.txt").write_text("nothing secret\n")
    result = CliRunner().invoke(cli, ["redact", "check", str(home / "notes.txt")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines == [
        f"traceforge: invalid config: {path}:2: proxy.prot: unknown field; did you mean 'port'?",
        f"traceforge: invalid config: {path}:6: upstreams.openai.base_url: not a URL: "
        "'not a url' (write e.g. https://api.openai.com/v1)",
        f"traceforge: invalid config: {path}:7: upstreams.openai.models[0]: empty pattern "
        "(write e.g. 'gpt-*')",
        f"traceforge: invalid config: {path}:8: storge: unknown field; did you mean 'storage'?",
    ]
    assert "Traceback" not in result.output
