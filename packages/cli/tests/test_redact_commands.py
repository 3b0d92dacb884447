"""``traceforge redact check`` and ``traceforge init`` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.config import DEFAULT_CONFIG_YAML, load_config
from traceforge_shared.redact import Redactor
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

KEY = "sk-proj-FAKEfake0123456789FAKEfake0123456789"
EMAIL = "jane.doe+test@example.com"


def _leaky_trace(store: TraceStore) -> str:
    """Save a trace as an old, unredacting TraceForge would have."""
    trace = make_trace(text=f"Your key is {KEY}, mail {EMAIL}")
    store.save(trace)
    return trace.id


def test_check_clean_store_exits_zero(store: TraceStore) -> None:
    trace = make_trace(text=f"Your key is {KEY}")
    store.save(Redactor().before_save(trace))
    result = CliRunner().invoke(cli, ["redact", "check"])
    assert result.exit_code == 0, result.output
    assert "No unredacted secrets or PII in 1 file(s)" in result.output


def test_check_store_with_leaks_exits_one_and_names_place_not_value(
    store: TraceStore, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id = _leaky_trace(store)
    monkeypatch.chdir(home)
    result = CliRunner().invoke(cli, ["redact", "check"])
    assert result.exit_code == 1, result.output
    assert f"traces/{trace_id}.json" in result.output  # relative to the working directory
    assert "response.choices[0].message.content" in result.output
    assert "api_key" in result.output and "email" in result.output
    assert KEY not in result.output and EMAIL not in result.output


def test_check_json_and_secrets_only(store: TraceStore) -> None:
    trace_id = _leaky_trace(store)
    runner = CliRunner()
    result = runner.invoke(cli, ["redact", "check", "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert {row["kind"] for row in rows} == {"api_key", "email"}
    assert all(row["file"].endswith(f"{trace_id}.json") for row in rows)
    result = runner.invoke(cli, ["redact", "check", "--json", "--secrets-only"])
    assert {row["kind"] for row in json.loads(result.output)} == {"api_key"}


def test_check_named_files_and_config_allowlist(tmp_path: Path, home: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text(f"contact {EMAIL}\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["redact", "check", "--json", str(notes)])
    assert result.exit_code == 1
    assert json.loads(result.output) == [{"file": str(notes), "where": "line 1", "kind": "email"}]
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(f"redaction:\n  allowlist: ['{EMAIL}']\n")
    result = runner.invoke(cli, ["redact", "check", str(notes)])
    assert result.exit_code == 0, result.output


def test_check_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["redact", "check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_init_creates_home_config_and_gitignore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    (project / ".gitignore").write_text("*.pyc")  # no final newline
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--home", ".ai-tests"])
    assert result.exit_code == 0, result.output
    config = project / ".ai-tests" / "config.yaml"
    assert config.read_text() == DEFAULT_CONFIG_YAML
    assert config.stat().st_mode & 0o777 == 0o600  # the shared config writer's mode
    load_config(config)  # parses
    assert (project / ".ai-tests" / "tests").is_dir()
    lines = (project / ".gitignore").read_text().splitlines()
    assert lines[0] == "*.pyc"
    assert ".ai-tests/traces/" in lines and ".ai-tests/results/" in lines

    # Idempotent: a second run keeps the user's config and adds nothing.
    config.write_text("proxy:\n  port: 9999\n")
    before = (project / ".gitignore").read_text()
    result = runner.invoke(cli, ["init", "--home", ".ai-tests"])
    assert result.exit_code == 0
    assert "kept" in result.output
    assert config.read_text() == "proxy:\n  port: 9999\n"
    assert (project / ".gitignore").read_text() == before

    result = runner.invoke(cli, ["init", "--home", ".ai-tests", "--force"])
    assert config.read_text() == DEFAULT_CONFIG_YAML


def test_init_home_outside_project_leaves_gitignore_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["init"])  # home is tmp_path/home, outside project
    assert result.exit_code == 0, result.output
    assert (home / "config.yaml").exists()
    assert not (project / ".gitignore").exists()
    assert "outside" in result.output
