"""The ``traceforge-no-traces`` hook run by the real ``pre-commit`` tool, installed from this
repository's ``.pre-commit-hooks.yaml``, in a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]  # a dev dependency (hatch.toml)

pytestmark = pytest.mark.skipif(
    not (REPO / ".git").exists(), reason="needs this repository's git checkout"
)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A git repository whose pre-commit config uses this repository's hook at HEAD."""
    root = tmp_path_factory.mktemp("precommit")
    project = root / "app"
    project.mkdir()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(root / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "TRACEFORGE_HOME": str(project / ".ai-tests"),
    }
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)
    rev = _run(["git", "rev-parse", "HEAD"], REPO, env).stdout.strip()
    assert rev
    assert _run(["git", "init", "-q", "-b", "main"], project, env).returncode == 0
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {rev}\n    hooks:\n      - id: traceforge-no-traces\n",
        encoding="utf-8",
    )
    installed = _run([*PRE_COMMIT, "install"], project, env)
    assert installed.returncode == 0, installed.stderr
    # Build the hook environment once (pip installs the hook from this repository).
    warm = _run([*PRE_COMMIT, "install-hooks"], project, env)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    return project, env


def test_commit_with_a_trace_file_is_blocked(project: tuple[Path, dict[str, str]]) -> None:
    path, env = project
    traces = path / ".ai-tests" / "traces"
    traces.mkdir(parents=True)
    (traces / "0123abcd.json").write_text('{"schema_version": 1}\n', encoding="utf-8")
    (path / "notes.md").write_text("hello\n", encoding="utf-8")
    assert _run(["git", "add", "-A"], path, env).returncode == 0
    commit = _run(["git", "commit", "-m", "add a trace"], path, env)
    output = commit.stdout + commit.stderr
    assert commit.returncode != 0, output
    assert "TraceForge blocked this commit" in output
    assert ".ai-tests/traces/0123abcd.json: a trace file" in output
    assert "--no-verify" in output
    assert _run(["git", "rev-parse", "--verify", "HEAD"], path, env).returncode != 0
    _run(["git", "rm", "-r", "-q", "--cached", ".ai-tests"], path, env)


def test_commit_with_a_credential_is_blocked(project: tuple[Path, dict[str, str]]) -> None:
    path, env = project
    (path / "settings.py").write_text(
        'GITHUB_TOKEN = "ghp_FAKEplanted0123456789abcdefghijklmnop"\n', encoding="utf-8"
    )
    assert _run(["git", "add", "settings.py"], path, env).returncode == 0
    commit = _run(["git", "commit", "-m", "settings"], path, env)
    output = commit.stdout + commit.stderr
    assert commit.returncode != 0, output
    assert "settings.py: line 1: unredacted api_key" in output
    assert "ghp_FAKEplanted" not in output.replace('"ghp_FAKEplanted', "")  # value not echoed
    _run(["git", "rm", "-q", "--cached", "settings.py"], path, env)
    (path / "settings.py").unlink()


def test_clean_commit_passes(project: tuple[Path, dict[str, str]]) -> None:
    path, env = project
    shutil.rmtree(path / ".ai-tests", ignore_errors=True)
    (path / "app.py").write_text("print('hello, llm')\n", encoding="utf-8")
    assert _run(["git", "add", "app.py", "notes.md"], path, env).returncode == 0
    commit = _run(["git", "commit", "-m", "clean"], path, env)
    assert commit.returncode == 0, commit.stdout + commit.stderr
    hook_line = next(
        line
        for line in (commit.stdout + commit.stderr).splitlines()
        if line.startswith("keep TraceForge traces and secrets out of git")
    )
    assert hook_line.endswith("Passed")
    assert _run(["git", "rev-parse", "--verify", "HEAD"], path, env).returncode == 0
