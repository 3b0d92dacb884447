"""CLI test fixtures: an isolated TraceForge home for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from traceforge_proxy.upstream import KEY_ENVS
from traceforge_shared.store import TraceStore


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("TRACEFORGE_HOME", str(path))
    # Every provider goes to the built-in mock upstream, whatever keys this machine has.
    for names in KEY_ENVS.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    return path


@pytest.fixture
def store(home: Path) -> TraceStore:
    return TraceStore(home, fsync=False)
