"""Test run results kept under ``<home>/results/<run id>.json`` (one JSON file per run,
written atomically like traces)."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from traceforge_shared.config import resolve_home
from traceforge_shared.evals.testcase import TestRun
from traceforge_shared.store.files import write_atomic


class ResultStore:
    """The results of ``traceforge test run``.

    Args:
        home: TraceForge home (default: ``$TRACEFORGE_HOME`` or ``./.ai-tests``).
        fsync: flush each file to disk before renaming it into place.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, *, fsync: bool = True) -> None:
        self.home = resolve_home(home)
        self.results_dir = self.home / "results"
        self.fsync = fsync

    def save(self, run: TestRun) -> Path:
        """Write ``run``; returns its file."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        path = self.results_dir / f"{run.id}.json"
        write_atomic(path, msgspec.json.encode(run), fsync=self.fsync)
        return path

    def ids(self) -> list[str]:
        """Run ids, newest first (ids sort by time)."""
        if not self.results_dir.is_dir():
            return []
        names = (p.stem for p in self.results_dir.glob("*.json") if not p.name.startswith("."))
        return sorted(names, reverse=True)

    def get(self, run_id: str) -> TestRun:
        """Read one run.

        Raises:
            FileNotFoundError: no such run.
            msgspec.DecodeError: the file is not a test run.
        """
        return msgspec.json.decode((self.results_dir / f"{run_id}.json").read_bytes(), type=TestRun)

    def latest(self) -> TestRun | None:
        """The newest readable run, or ``None``."""
        for run_id in self.ids():
            try:
                return self.get(run_id)
            except (OSError, msgspec.DecodeError):
                continue
        return None
