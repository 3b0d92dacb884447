"""Fixtures of the TUI tests: a store in a temporary home, the sample traces saved in it, and
local times rendered in UTC (deterministic snapshots)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import textual.constants

from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

from .sample import sample_traces


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Render local times in UTC, whatever this machine's zone (deterministic snapshots)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def no_animations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch Textual's animations off (as ``TEXTUAL_ANIMATIONS=none``): the pilot waits for
    them after every key, and snapshots are taken once they are over anyway."""
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    """An empty store in a temporary home."""
    return TraceStore(tmp_path / "home", fsync=False)


@pytest.fixture
def traces(store: TraceStore) -> dict[str, Trace]:
    """The sample traces saved in ``store`` (out of order), by id."""
    made = sample_traces()
    for trace in reversed(made):
        store.save(trace)
    return {trace.id: trace for trace in made}
