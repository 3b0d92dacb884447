"""The ``traceforge-pre-commit`` hook: blocks commits of TraceForge homes, traces and
unredacted secrets.

Published in the repository's ``.pre-commit-hooks.yaml`` (hook id ``traceforge-no-traces``);
pre-commit passes the staged file names (relative to the repository root, the working
directory). Exit 1 blocks the commit. A staged file is blocked when:

- it belongs to a TraceForge home wherever the home lives: ``traces/*``, ``results/*`` and
  ``index.sqlite*`` of a directory named ``.ai-tests``, of the configured home
  (``$TRACEFORGE_HOME``), or of any directory holding both ``index.sqlite`` and ``traces/``
  (on disk or among the staged files). The home's ``config.yaml``, ``tests/`` and
  ``cassettes/`` are meant to be committed and are only checked for secrets;
- it matches a trace path pattern (``trace-*.json``, ``*.trace.json``, ``--trace-pattern``);
- it is a trace by content, whatever its name: a JSON object (or an array, or JSON lines, of
  objects) with ``schema_version``, ``id`` and ``request`` or ``chunks`` keys; or a SQLite
  file holding TraceForge's ``traces`` index table;
- it holds an unredacted credential of any detector kind (with ``--pii``, PII too), text or
  binary (the printable runs of binary files are scanned, like ``strings``).

Findings name the file, the place and the kind, never the value.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from traceforge_shared.config import ConfigError, config_path, load_config, resolve_home
from traceforge_shared.redact.engine import Redactor
from traceforge_shared.redact.scan import Leak, scan_bytes

#: Paths that are trace files. Patterns with a ``/`` match the path (at any depth), others the
#: file name.
DEFAULT_TRACE_PATTERNS: tuple[str, ...] = (
    ".ai-tests/traces/*",
    ".ai-tests/results/*",
    "trace-*.json",
    "*.trace.json",
)

#: Name of the default home directory; any directory of that name is a home.
HOME_DIRNAME = ".ai-tests"
#: Entries of a home that hold prompts and answers: these folders, and the index files.
HOME_DATA_DIRS = frozenset({"traces", "results"})
INDEX_NAME = "index.sqlite"

_SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
_INDEX_TABLE = b"CREATE TABLE traces ("
_TRACE_KEYS = b'"schema_version"'


def trace_pattern(path: str, patterns: Sequence[str]) -> str | None:
    """Return the first pattern ``path`` matches, or ``None``."""
    posix = PurePosixPath(path.replace("\\", "/")).as_posix()
    name = posix.rsplit("/", 1)[-1]
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatchcase(posix, pattern) or fnmatch.fnmatchcase(posix, f"*/{pattern}"):
                return pattern
        elif fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


class HomeFinder:
    """Decides whether a path is a data file of a TraceForge home.

    Args:
        staged: every staged path (POSIX, relative to the working directory), so a home whose
            ``index.sqlite`` and ``traces/`` are both being added is known before they exist
            anywhere else.
        configured: the configured home (``$TRACEFORGE_HOME`` or ``./.ai-tests``), or ``None``.
    """

    def __init__(self, staged: Sequence[str], configured: Path | None = None) -> None:
        self._staged_dirs: set[PurePosixPath] = set()
        self._staged_index: set[PurePosixPath] = set()
        for raw in staged:
            path = _posix(raw)
            for i, part in enumerate(path.parts[:-1]):
                if part == "traces":
                    self._staged_dirs.add(PurePosixPath(*path.parts[:i]))
            if path.name == INDEX_NAME:
                self._staged_index.add(path.parent)
        self._configured = _resolved(configured) if configured is not None else None
        self._cache: dict[PurePosixPath, bool] = {}

    def is_home(self, directory: PurePosixPath) -> bool:
        """Whether ``directory`` is a TraceForge home (see the module docstring)."""
        known = self._cache.get(directory)
        if known is None:
            known = self._cache[directory] = self._is_home(directory)
        return known

    def _is_home(self, directory: PurePosixPath) -> bool:
        if directory.name == HOME_DIRNAME:
            return True
        if directory in self._staged_dirs and directory in self._staged_index:
            return True
        local = Path(directory) if directory.parts else Path(".")
        if (local / INDEX_NAME).is_file() and (local / "traces").is_dir():
            return True
        return self._configured is not None and _resolved(local) == self._configured

    def home_file(self, raw: str) -> str | None:
        """What ``raw`` is if it is a data file of a home (``a trace file of the TraceForge
        home .ai-tests``), else ``None``."""
        path = _posix(raw)
        parts = path.parts
        for i in range(len(parts) - 1, -1, -1):
            entry = parts[i]
            inside_dir = entry in HOME_DATA_DIRS and i < len(parts) - 1
            index = i == len(parts) - 1 and entry.startswith(INDEX_NAME)
            if (inside_dir or index) and self.is_home(PurePosixPath(*parts[:i])):
                home = PurePosixPath(*parts[:i]).as_posix()
                what = _HOME_ENTRIES["index" if index else entry]
                return f"{what} of the TraceForge home {home}"
        return None


_HOME_ENTRIES = {
    "traces": "a trace file",
    "results": "a results file",
    "index": "the trace index",
}


def _posix(raw: str) -> PurePosixPath:
    return PurePosixPath(raw.replace("\\", "/"))


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except OSError:  # pragma: no cover - a loop of symlinks
        return None


def trace_content(data: bytes) -> str | None:
    """What makes ``data`` a trace by content (a phrase for the message), or ``None``: a
    SQLite database or write-ahead log holding TraceForge's ``traces`` table, or JSON (one
    document, or JSON lines) with an object, or an array of objects, that has
    ``schema_version``, ``id`` and ``request`` or ``chunks`` keys."""
    if data.startswith((_SQLITE_MAGIC, *_WAL_MAGICS)):
        return "a TraceForge index (SQLite with a traces table)" if _INDEX_TABLE in data else None
    if _TRACE_KEYS not in data:
        return None
    head = data.lstrip()[:1]
    if head not in (b"{", b"["):
        return None
    try:
        documents: list[Any] = [msgspec.json.decode(data)]
    except msgspec.DecodeError:
        documents = []
        for line in data.splitlines():
            if _TRACE_KEYS in line:
                try:
                    documents.append(msgspec.json.decode(line))
                except msgspec.DecodeError:
                    continue
    for document in documents:
        items = document if isinstance(document, list) else [document]
        if any(_trace_shaped(item) for item in items):
            return "trace-shaped JSON (schema_version, id and request/chunks keys)"
    return None


def _trace_shaped(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "schema_version" in value
        and "id" in value
        and ("request" in value or "chunks" in value)
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="traceforge-pre-commit",
        description="Block commits that add TraceForge homes, traces or unredacted secrets.",
    )
    parser.add_argument("files", nargs="*", help="staged files (pre-commit passes them)")
    parser.add_argument(
        "--trace-pattern",
        action="append",
        metavar="GLOB",
        help="a path pattern of trace files (repeatable; replaces the defaults "
        f"{', '.join(DEFAULT_TRACE_PATTERNS)}; homes and trace-shaped JSON are always blocked)",
    )
    parser.add_argument(
        "--pii",
        action="store_true",
        help="also block emails, phone numbers, cards, IBANs, SSNs and IPs "
        "(default: credentials only)",
    )
    parser.add_argument(
        "--no-content",
        action="store_true",
        help="check file names only, not what the files contain",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hook on the files named in ``argv`` (default: ``sys.argv``).

    Returns:
        The exit status: 0 when nothing was found, 1 when the commit is blocked (the reasons
        are printed on stderr, one line per file and finding) or the config cannot be read.
    """
    args = _parser().parse_args(argv)
    patterns = tuple(args.trace_pattern or DEFAULT_TRACE_PATTERNS)
    home = resolve_home()
    try:
        config = load_config(config_path(home))
    except ConfigError as exc:
        print(f"traceforge-pre-commit: {exc}", file=sys.stderr)
        return 1
    redactor = Redactor(config.redaction, only_secrets=not args.pii)
    homes = HomeFinder(args.files, home)
    blocked: list[str] = []
    leaks: list[Leak] = []
    for file in args.files:
        entry = homes.home_file(file)
        if entry is not None:
            blocked.append(f"{file}: {entry}; traces hold prompts and answers")
            continue
        pattern = trace_pattern(file, patterns)
        if pattern is not None:
            blocked.append(
                f"{file}: a trace file (matches {pattern}); traces hold prompts and answers"
            )
            continue
        if args.no_content:
            continue
        try:
            with open(file, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue  # deleted, a dangling link or a submodule: nothing staged to read
        except OSError as exc:
            blocked.append(f"{file}: cannot be read to check it ({exc.strerror or exc})")
            continue
        what = trace_content(data)
        if what is not None:
            blocked.append(f"{file}: {what}; traces hold prompts and answers")
            continue
        leaks.extend(scan_bytes(redactor, data, file, binary=True))
    if not blocked and not leaks:
        return 0
    out = sys.stderr
    print("TraceForge blocked this commit:", file=out)
    for line in blocked:
        print(f"  {line}", file=out)
    for leak in leaks:
        print(f"  {leak.file}: {leak.where}: unredacted {leak.kind}", file=out)
    print(
        "Unstage them (git restore --staged FILE) and keep traces in .gitignore "
        "(`traceforge init` adds them).\nIf you are sure, commit anyway with "
        "`git commit --no-verify`.",
        file=out,
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
