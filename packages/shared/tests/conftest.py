"""Shared-package test fixtures: every test gets its own TraceForge home."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def traceforge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``$TRACEFORGE_HOME`` at a fresh directory so no test touches a real home."""
    home = tmp_path / "traceforge-home"
    monkeypatch.setenv("TRACEFORGE_HOME", str(home))
    return home
