"""Progress of long store work on stderr: the store's progress callback
(:data:`traceforge_shared.store.ProgressCallback`) wired to the terminal.

Nothing is shown for work that ends within :data:`DEFAULT_AFTER_S` seconds. Past that, on a
terminal, a rich progress bar (``indexing trace files ━━━━━ 12,000/20,000``); otherwise (a
pipe, a log file, CI) one line when it starts showing, one every :data:`LINE_INTERVAL_S`
seconds and one at the end::

    traceforge: indexing trace files: 2,250/20,000
    traceforge: indexed 20,000 trace files in 16.2 s

``$TRACEFORGE_PROGRESS_AFTER_S`` sets the threshold in seconds (``0``: always show, as tests
do). Only the standard library is imported at module level; rich is imported when a bar is
first drawn.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

__all__ = ["AFTER_ENV", "DEFAULT_AFTER_S", "LINE_INTERVAL_S", "ProgressReporter", "after_s"]

#: Environment variable overriding :data:`DEFAULT_AFTER_S` (seconds, a float >= 0).
AFTER_ENV = "TRACEFORGE_PROGRESS_AFTER_S"
#: Work shorter than this many seconds shows no progress.
DEFAULT_AFTER_S = 1.0
#: Seconds between two progress lines when stderr is not a terminal.
LINE_INTERVAL_S = 3.0


def after_s() -> float:
    """The threshold: ``$TRACEFORGE_PROGRESS_AFTER_S`` when it is a number >= 0, else
    :data:`DEFAULT_AFTER_S`."""
    raw = os.environ.get(AFTER_ENV, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_AFTER_S
    return value if value >= 0 else DEFAULT_AFTER_S


class ProgressReporter:
    """A store progress callback (``(done, total)`` trace files read) that reports on
    ``stream``. One instance reports any number of runs (each starts at ``done == 0``).

    Args:
        what: the work, as a gerund phrase (``"indexing trace files"``).
        stream: where to write (default: stderr).
        after: seconds before anything is shown (default: :func:`after_s`).
        tty: draw a bar (default: whether ``stream`` is a terminal).
    """

    def __init__(
        self,
        what: str = "indexing trace files",
        *,
        stream: IO[str] | None = None,
        after: float | None = None,
        tty: bool | None = None,
    ) -> None:
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.after = after_s() if after is None else after
        self.tty = _isatty(self.stream) if tty is None else tty
        self._start = 0.0
        self._shown = False
        self._last_line = 0.0
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        """Note that ``done`` of ``total`` files are read; show it when due."""
        now = time.monotonic()
        if done == 0 or not self._start:
            self._start, self._shown, self._last_line = now, False, 0.0
        if not self._shown:
            if now - self._start < self.after:
                return
            self._shown = True
            if self.tty:
                self._open_bar(total)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)
            if done >= total:
                self._bar.stop()
                self._bar = None
        elif done >= total:
            self._line(
                f"{_past(self.what)} {total:,} {_object(self.what)} in {now - self._start:.1f} s"
            )
        elif now - self._last_line >= LINE_INTERVAL_S or not self._last_line:
            self._last_line = now
            self._line(f"{self.what}: {done:,}/{total:,}")
        if done >= total:
            self._start = 0.0

    def _line(self, text: str) -> None:
        self.stream.write(f"traceforge: {text}\n")
        self.stream.flush()

    def _open_bar(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(file=self.stream, emoji=False, force_terminal=True),
            transient=True,
        )
        self._task = self._bar.add_task(self.what, total=total)
        self._bar.start()


def _past(what: str) -> str:
    """``"indexing trace files"`` → ``"indexed"``."""
    verb = what.split(" ", 1)[0]
    return verb[:-3] + "ed" if verb.endswith("ing") else verb


def _object(what: str) -> str:
    return what.split(" ", 1)[1] if " " in what else ""


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
