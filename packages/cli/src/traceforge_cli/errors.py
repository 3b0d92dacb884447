"""How a failed ``traceforge`` command reports itself: one line on stderr, never a traceback.

Every command runs inside :func:`guarded` (the top-level group's ``invoke``), which turns an
exception into a :class:`CliError`:

- a known problem (a store error, a :class:`~traceforge_shared.errors.FileProblem` such as
  ``ConfigError`` or ``TestFileError``, an ``OSError`` such as a full disk or a read-only
  home, a corrupt ``index.sqlite``, undecodable data, Ctrl-C) becomes
  ``traceforge: <what> (<path>)``;
- anything else becomes ``traceforge: internal error (<type>: <message>); run with
  TRACEFORGE_DEBUG=1 for the traceback``.

Exit status: 2 for a command line click rejects (its usage errors keep click's own format)
and for an invalid test file (as ``traceforge test run`` reports one); 1 for everything else.
With ``TRACEFORGE_DEBUG=1`` (or ``true``/``yes``) unexpected errors propagate with their
traceback.

Only the standard library and click are imported at module level, so ``traceforge --help``
stays light; the classification looks up ``msgspec``/``sqlite3`` in ``sys.modules`` (an
exception of theirs means they are already imported).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

__all__ = [
    "DEBUG_ENV",
    "EXIT_RUNTIME",
    "EXIT_USAGE",
    "BadInputError",
    "CliError",
    "ProblemsError",
    "cli_error",
    "config_error",
    "debug_enabled",
    "describe",
    "guarded",
    "os_error_text",
]

#: Environment variable that lets unexpected errors show their traceback.
DEBUG_ENV = "TRACEFORGE_DEBUG"

#: Exit status of a failed command (click's convention: 1 runtime, 2 bad command line).
EXIT_RUNTIME, EXIT_USAGE = 1, 2

#: Longest message printed (a 100 kB id or a huge decode error stays readable).
_MAX_CHARS = 600

#: What an ``errno`` means for a TraceForge user, shorter than ``strerror`` where it helps.
_ERRNO_TEXT: dict[int, str] = {
    errno.ENOSPC: "no space left on the disk",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "is a directory, not a file",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EIO: "input/output error",
}


def debug_enabled() -> bool:
    """Whether ``$TRACEFORGE_DEBUG`` asks for tracebacks (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) made one space, at most
    ``_MAX_CHARS`` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_CHARS else flat[: _MAX_CHARS - 1] + "…"


class CliError(click.ClickException):
    """A failure reported as one line ``traceforge: <message>`` on stderr; exit status 1.

    Args:
        message: what went wrong (made one line, at most 600 characters).
    """

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))

    def show(self, file: IO[Any] | None = None) -> None:
        """Write ``traceforge: <message>`` to ``file`` (default: stderr)."""
        click.echo(f"traceforge: {self.format_message()}", file=file, err=file is None)


class BadInputError(CliError):
    """A :class:`CliError` about bad input (an invalid test file); exit status 2."""

    exit_code = EXIT_USAGE


class ProblemsError(CliError):
    """Several problems reported together, one line each: ``traceforge: <problem>`` (e.g.
    every problem of a config file); exit status 1.

    Args:
        problems: the problems (each made one line, at most 600 characters).
    """

    def __init__(self, problems: list[str]) -> None:
        click.ClickException.__init__(self, "\n".join(_one_line(p) for p in problems))

    def show(self, file: IO[Any] | None = None) -> None:
        """Write ``traceforge: <problem>`` for each problem to ``file`` (default: stderr)."""
        for line in self.format_message().splitlines():
            click.echo(f"traceforge: {line}", file=file, err=file is None)


def config_error(exc: BaseException) -> CliError:
    """The error reporting a :class:`~traceforge_shared.config.ConfigError`: one line per
    problem when it holds several (``ConfigErrors``), each ``invalid config: <file>:<line>:
    <key>: <message>``."""
    problems = getattr(exc, "problems", None) or [exc]
    return ProblemsError([f"invalid config: {problem}" for problem in problems])


def cli_error(message: str, exit_code: int = EXIT_RUNTIME) -> CliError:
    """A :class:`CliError` (``exit_code`` 1) or :class:`BadInputError` (any other)."""
    return CliError(message) if exit_code == EXIT_RUNTIME else BadInputError(message)


def os_error_text(exc: OSError) -> str:
    """``<what> (<path>)`` for an ``OSError``: the errno's meaning and the file(s) involved."""
    what = _ERRNO_TEXT.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
    if exc.errno == errno.EEXIST and paths and os.path.isfile(paths[0]):
        what = "a file is where a directory is needed"  # mkdir(exist_ok=True) over a file
    if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT):
        what = f"cannot write: {what}" if exc.errno != errno.EACCES else f"cannot access: {what}"
    return f"{what} ({' → '.join(paths)})" if paths else what


def _sqlite_error(exc: Exception, home: Path | None) -> str:
    index = f" ({home / 'index.sqlite'})" if home is not None else ""
    text = str(exc) or type(exc).__name__
    if "readonly" in text or "read-only" in text:
        return f"cannot write the trace index: it is read-only{index}"
    if "disk is full" in text:
        return f"cannot write the trace index: no space left on the disk{index}"
    if "unable to open" in text:
        return f"cannot open the trace index: {text}{index}"
    return (
        f"the trace index is unreadable ({text}){index}; delete index.sqlite and it is "
        "rebuilt from the trace files"
    )


def _is_instance(exc: BaseException, module: str, *names: str) -> bool:
    """Whether ``exc`` is one of ``module``'s classes ``names`` (without importing it)."""
    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    classes = tuple(c for c in (getattr(loaded, n, None) for n in names) if isinstance(c, type))
    return bool(classes) and isinstance(exc, classes)


def describe(exc: BaseException, home: Path | None = None) -> CliError | None:
    """The :class:`CliError` that reports a known problem ``exc``, or ``None`` when it is not
    one this CLI knows (a bug: the caller reports it as an internal error).

    Args:
        exc: the exception a command raised.
        home: the TraceForge home, named in messages about the index.
    """
    if isinstance(exc, KeyboardInterrupt):
        return CliError("interrupted (Ctrl-C)")
    if _is_instance(exc, "traceforge_shared.evals.loader", "TestFileError"):
        return BadInputError(f"invalid test file: {exc}")
    if _is_instance(exc, "traceforge_shared.config", "ConfigError"):
        return config_error(exc)
    if _is_instance(exc, "traceforge_shared.errors", "FileProblem"):
        return CliError(str(exc))
    if _is_instance(exc, "traceforge_shared.store.errors", "StoreError"):
        return CliError(str(exc) or type(exc).__name__)
    if _is_instance(exc, "sqlite3", "Error"):
        return CliError(_sqlite_error(exc if isinstance(exc, Exception) else Exception(), home))
    if _is_instance(exc, "msgspec", "DecodeError", "ValidationError"):
        return CliError(f"invalid data: {exc}")
    if isinstance(exc, OSError):
        return CliError(os_error_text(exc))
    if isinstance(exc, UnicodeError):
        return CliError(f"not valid text: {exc}")
    if isinstance(exc, RecursionError):
        return CliError("the input is nested too deeply")
    if isinstance(exc, MemoryError):
        return CliError("out of memory")
    return None


def _internal(exc: BaseException) -> CliError:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return CliError(
        f"internal error ({_one_line(detail)[:300]}); run with {DEBUG_ENV}=1 for the traceback"
    )


@contextlib.contextmanager
def guarded(home: Callable[[], Path | None] = lambda: None) -> Iterator[None]:
    """Run the body so that no exception but a :class:`click.ClickException` (and click's own
    exit and abort signals, and ``SystemExit``) leaves it.

    Args:
        home: returns the TraceForge home, for messages about the index (called only when
            such an error happens).

    Raises:
        click.UsageError: as raised (click prints usage, exit 2).
        CliError: every other failure, as one line (exit 1, or 2 for an invalid test file).
        click.exceptions.Exit, click.Abort, SystemExit: as raised.
        Exception: anything unexpected, as raised, when ``$TRACEFORGE_DEBUG`` is set.
    """
    try:
        yield
    except (click.exceptions.Exit, click.Abort, click.UsageError, CliError):
        raise
    except click.ClickException as exc:  # a command's own message: same one-line style
        raise cli_error(exc.format_message(), exc.exit_code) from exc
    except (Exception, KeyboardInterrupt) as exc:
        known = describe(exc, _safe(home))
        if known is not None:
            if debug_enabled() and not isinstance(exc, KeyboardInterrupt):
                raise
            raise known from exc
        if debug_enabled():
            raise
        raise _internal(exc) from exc


def _safe(home: Callable[[], Path | None]) -> Path | None:
    try:
        return home()
    except Exception:  # the home is what failed: name no index path
        return None
