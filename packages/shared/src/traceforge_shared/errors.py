"""One error for a problem at a place in a file: the file, the 1-based line, the field.

``str()`` reads the way compilers report errors (line and field left out when unknown)::

    .ai-tests/config.yaml:4: proxy.port: Expected `int` <= 65535
    .ai-tests/tests/sky.yaml:12: assertions[1].max_ms: Expected `float`, got `str`

:class:`~traceforge_shared.config.ConfigError`,
:class:`~traceforge_shared.evals.loader.TestFileError` and
:class:`~traceforge_shared.yamlfile.YamlProblem` (a problem not tied to a file yet) are
subclasses, so ``except FileProblem`` catches them all and every old ``except`` still works.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FileProblem"]


class FileProblem(ValueError):
    """Something wrong at a place in a file.

    Args:
        path: the file (``None`` while the problem is not tied to a file yet).
        message: what is wrong, a sentence without the location.
        line: 1-based line of the offending value, when known.
        field: path of the offending field (``proxy.port``, ``assertions[1].max_ms``), when
            known.

    Attributes:
        path, line, field: as given.
        reason: the message (writable: a caller may add a hint before raising it again).
    """

    def __init__(
        self,
        path: Path | None,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.reason = message
        self.line = line
        self.field = field

    @property
    def message(self) -> str:
        """What is wrong, without the location (the same as :attr:`reason`)."""
        return self.reason

    def __str__(self) -> str:
        """``path:line: field: reason``; without a path, ``line N: field: reason``."""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        else:
            where = f"line {self.line}: " if self.line else ""
        return where + self.located_reason()

    def located_reason(self) -> str:
        """``field: reason`` (just the reason when the field is unknown)."""
        return f"{self.field}: {self.reason}" if self.field else self.reason

    def describe(self, shown_path: str) -> str:
        """One line for a person, naming the file as ``shown_path``:
        ``config.yaml line 3: proxy.port: Expected `int`, got `str```."""
        where = f"{shown_path} line {self.line}" if self.line else shown_path
        return f"{where}: {self.located_reason()}"
