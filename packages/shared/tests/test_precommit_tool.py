"""The ``traceforge-no-traces`` hook run by the real ``pre-commit`` tool, installed from this
repository's ``.pre-commit-hooks.yaml`` (a snapshot of the working tree), in temporary git
repositories: homes, traces by path and by content, every detector kind, keys inside
binary files are blocked; test files, cassettes, code, READMEs and images pass."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from traceforge_shared.redact.detectors import DETECTORS, HEADER_KINDS, KINDS
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

REPO = Path(__file__).resolve().parents[3]
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]  # a dev dependency (hatch.toml)
HOOK_SOURCES = ("pyproject.toml", ".pre-commit-hooks.yaml", "packages/shared")

pytestmark = pytest.mark.skipif(
    not (REPO / ".git").exists(), reason="needs this repository's git checkout"
)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _snapshot(root: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A git repository holding this checkout's hook as it is in the working tree (root
    ``pyproject.toml``, ``.pre-commit-hooks.yaml`` and ``packages/shared`` without its
    tests), committed; returns its path and commit. pre-commit installs hooks from a commit,
    so this is how uncommitted changes to the hook are what runs."""
    listed = _run(["git", "ls-files", "-co", "--exclude-standard", "--", *HOOK_SOURCES], REPO, env)
    assert listed.returncode == 0, listed.stderr
    snapshot = root / "hook-repo"
    for name in listed.stdout.splitlines():
        source = REPO / name
        if name.startswith("packages/shared/tests/") or not source.is_file():
            continue
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "hook"]):
        done = _run(["git", *args], snapshot, env)
        assert done.returncode == 0, done.stdout + done.stderr
    return snapshot, _run(["git", "rev-parse", "HEAD"], snapshot, env).stdout.strip()


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """``(hook repository, its commit, environment)`` with the hook environment built once
    in a shared ``PRE_COMMIT_HOME`` (pip installs the hook from the snapshot)."""
    root = tmp_path_factory.mktemp("precommit")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(root / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)
    env.pop("TRACEFORGE_HOME", None)
    repo, rev = _snapshot(root, env)
    warm = _new_project(root / "warm", repo, rev, env, [])
    built = _run([*PRE_COMMIT, "install-hooks"], warm, env)
    assert built.returncode == 0, built.stdout + built.stderr
    return repo, rev, env


def _new_project(path: Path, repo: Path, rev: str, env: dict[str, str], args: list[str]) -> Path:
    """A new git repository at ``path`` using the hook (with ``args``), installed."""
    path.mkdir(parents=True)
    assert _run(["git", "init", "-q", "-b", "main"], path, env).returncode == 0
    hook_args = f"        args: {json.dumps(args)}\n" if args else ""
    (path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n"
        f"      - id: traceforge-no-traces\n{hook_args}",
        encoding="utf-8",
    )
    installed = _run([*PRE_COMMIT, "install"], path, env)
    assert installed.returncode == 0, installed.stderr
    return path


@pytest.fixture(scope="module")
def project(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A git repository whose pre-commit config uses the hook (shared by the tests below)."""
    repo, rev, env = hook_env
    path = _new_project(tmp_path_factory.mktemp("app") / "app", repo, rev, env, [])
    return path, {**env, "TRACEFORGE_HOME": str(path / ".ai-tests")}


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


# -- homes, traces by content, every kind, binary files ------------------------------------

CORPUS: list[dict[str, str]] = json.loads(
    (Path(__file__).parent / "data" / "planted_secrets.json").read_text(encoding="utf-8")
)
SECRET_KINDS = {d.kind for d in DETECTORS if d.secret} | {"sensitive_keys"}


def _commit(path: Path, env: dict[str, str], message: str) -> tuple[int, str]:
    assert _run(["git", "add", "-A"], path, env).returncode == 0
    done = _run(["git", "commit", "-q", "-m", message], path, env)
    return done.returncode, done.stdout + done.stderr


def _fresh(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path: Path, args: list[str] | None = None
) -> tuple[Path, dict[str, str]]:
    repo, rev, env = hook_env
    path = _new_project(tmp_path / "app", repo, rev, env, args or [])
    return path, {**env, "TRACEFORGE_HOME": str(path / ".ai-tests")}


def _store_with_a_trace(home: Path) -> Path:
    """A real store at ``home`` with one saved trace; returns the trace file."""
    store = TraceStore(home, fsync=False)
    path = store.save(make_trace(text="the answer to the secret question"))
    assert (home / "index.sqlite").is_file()
    return path


def _png(payload: bytes = b"") -> bytes:
    """A valid PNG of seeded random pixels, with ``payload`` in a tEXt chunk if given."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    side = 64
    rng = random.Random(7)
    rows = b"".join(b"\0" + rng.randbytes(side * 3) for _ in range(side))
    header = side.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    text = chunk(b"tEXt", b"Comment\0" + payload) if payload else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + text
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_every_file_of_a_home_and_every_trace_shape_is_blocked(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    path, env = _fresh(hook_env, tmp_path)
    trace_file = _store_with_a_trace(path / ".ai-tests")  # the default home, real files
    (path / ".ai-tests" / "results").mkdir()
    (path / ".ai-tests" / "results" / "run-1.json").write_text('{"passed": 3}\n')
    nested = _store_with_a_trace(path / "services" / "bot" / ".ai-tests")
    custom = _store_with_a_trace(path / "data" / "llm-home")  # any dir: index + traces/
    exports = path / "exports"
    exports.mkdir()
    raw = trace_file.read_bytes()
    (exports / "call.json").write_bytes(raw)  # a trace under another name
    (exports / "calls.log").write_bytes(raw.replace(b"\n", b"") + b"\n" + raw.replace(b"\n", b""))
    (exports / "batch.json").write_bytes(b"[" + raw + b"]")
    with (
        sqlite3.connect(path / ".ai-tests" / "index.sqlite") as index,
        sqlite3.connect(exports / "backup.db") as backup,
    ):
        index.backup(backup)  # a copy of the index under another name
    index.close()
    backup.close()
    code, output = _commit(path, env, "add everything")
    assert code != 0, output
    for name, what in (
        (".ai-tests/index.sqlite", "the trace index"),
        (f".ai-tests/traces/{trace_file.name}", "a trace file"),
        (".ai-tests/results/run-1.json", "a results file"),
        (f"services/bot/.ai-tests/traces/{nested.name}", "a trace file"),
        ("services/bot/.ai-tests/index.sqlite", "the trace index"),
        (f"data/llm-home/traces/{custom.name}", "a trace file"),
        ("data/llm-home/index.sqlite", "the trace index"),
    ):
        home = name.rsplit("/traces/", 1)[0].rsplit("/results/", 1)[0].rsplit("/index", 1)[0]
        assert f"  {name}: {what} of the TraceForge home {home};" in output, (name, output)
    for name in ("call.json", "calls.log", "batch.json"):
        assert f"  exports/{name}: trace-shaped JSON" in output, (name, output)
    assert "  exports/backup.db: a TraceForge index (SQLite with a traces table)" in output
    assert "the answer to the secret question" not in output
    assert _run(["git", "rev-parse", "--verify", "HEAD"], path, env).returncode != 0


def test_ordinary_files_test_files_and_cassettes_pass(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    path, env = _fresh(hook_env, tmp_path)
    home = path / ".ai-tests"
    (home / "tests" / "chat").mkdir(parents=True)
    (home / "tests" / "chat" / "greeting.yaml").write_text(
        "name: greeting\nrequest:\n  model: gpt-4o-mini\n  messages:\n"
        "    - {role: user, content: say hi}\nassert:\n  - {type: contains, value: hi}\n"
    )
    (home / "cassettes").mkdir()
    (home / "cassettes" / "greeting.yaml").write_text(
        "interactions:\n  - request: {method: POST, uri: 'http://127.0.0.1/v1/chat'}\n"
        '    response: {status: 200, body: \'{"id": "chatcmpl-1", "choices": []}\'}\n'
    )
    (home / "config.yaml").write_text("proxy:\n  port: 8899\n")
    (path / "app.py").write_text("import os\n\nprint(os.environ.get('OPENAI_API_KEY'))\n")
    (path / "README.md").write_text("# Bot\n\nUse Bearer authentication; version 1.2.3.4.\n")
    (path / "logo.png").write_bytes(_png())
    (path / "package.json").write_text('{"schema_version": 2, "id": "bot", "name": "bot"}\n')
    code, output = _commit(path, env, "clean")
    assert code == 0, output
    assert _run(["git", "rev-parse", "--verify", "HEAD"], path, env).returncode == 0


def test_every_credential_kind_is_blocked(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    path, env = _fresh(hook_env, tmp_path)
    (path / "leaks").mkdir()
    expected = []
    for i, entry in enumerate(e for e in CORPUS if e["kind"] in SECRET_KINDS):
        name = f"leaks/{entry['kind']}-{i}.txt"
        (path / name).write_text(f"note:\n{entry['text']}\n", encoding="utf-8")
        expected.append(f"  {name}: line 2: unredacted {entry['kind']}")
    assert {line.split("unredacted ")[1] for line in expected} == SECRET_KINDS
    code, output = _commit(path, env, "leaks")
    assert code != 0, output
    assert [line for line in expected if line not in output] == []
    assert all(entry["secret"] not in output for entry in CORPUS)


def test_every_pii_kind_is_blocked_with_the_pii_option(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    path, env = _fresh(hook_env, tmp_path, ["--pii"])
    (path / "people").mkdir()
    expected = []
    for i, entry in enumerate(e for e in CORPUS if e["kind"] not in SECRET_KINDS):
        name = f"people/{entry['kind']}-{i}.txt"
        (path / name).write_text(f"contact: {entry['text']}\n", encoding="utf-8")
        expected.append(f"  {name}: line 1: unredacted {entry['kind']}")
    code, output = _commit(path, env, "people")
    assert code != 0, output
    assert [line for line in expected if line not in output] == []
    kinds = {line.split("unredacted ")[1] for line in expected}
    assert kinds == set(KINDS) - SECRET_KINDS - set(HEADER_KINDS)


def test_keys_inside_binary_files_are_blocked(
    hook_env: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    path, env = _fresh(hook_env, tmp_path)
    stripe = next(e["secret"] for e in CORPUS if e["kind"] == "stripe_key")
    aws = next(e["secret"] for e in CORPUS if e["kind"] == "api_key" and e["secret"][:4] == "AKIA")
    (path / "shot.png").write_bytes(_png(f"key={stripe}".encode()))
    with sqlite3.connect(path / "app.db") as conn:  # someone's own database, not an index
        conn.execute("CREATE TABLE settings (name TEXT, value TEXT)")
        conn.execute("INSERT INTO settings VALUES ('aws', ?)", (aws,))
    conn.close()
    (path / "tool.exe").write_bytes(
        b"MZ\0\0" + random.Random(3).randbytes(64) + stripe.encode("utf-16-le")
    )
    code, output = _commit(path, env, "binaries")
    assert code != 0, output
    assert re.search(r"  shot\.png: byte \d+: unredacted stripe_key", output), output
    # SQLite stores the row's fields side by side ("awsAKIA..."): the key's word boundary is
    # gone, so detect-secrets (second opinion) is the one that finds it; either blocks.
    assert re.search(r"  app\.db: byte \d+: unredacted (api_key|detect-secrets: AWS)", output)
    assert re.search(r"  tool\.exe: byte \d+: unredacted stripe_key", output), output
    assert stripe not in output and aws not in output
