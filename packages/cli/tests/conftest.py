"""CLI test fixtures: an isolated TraceForge home for every test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """Commands run in-process (CliRunner) install the CLI's redacting handlers and stop
    propagation (``traceforge_cli.logs.configure_logging``), as a real process should; undo
    it after each test so later tests (and other packages' ``caplog``) see records again."""
    from traceforge_cli.logs import LIBRARY_LOGGER_NAMES, LOGGER_NAMES

    saved = {}
    for name in (*LOGGER_NAMES, *LIBRARY_LOGGER_NAMES):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = propagate
