"""Finding unredacted secrets and PII in files: ``traceforge redact check`` and the
pre-commit hook. Findings name the file, where in it and the kind, never the value."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from traceforge_shared.redact.engine import Redactor
from traceforge_shared.store.errors import TraceSchemaError
from traceforge_shared.store.files import decode_trace

#: Files larger than this are not scanned (reported as skipped).
MAX_BYTES = 64 * 1024 * 1024

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv"})


@dataclass(frozen=True)
class Leak:
    """One unredacted value.

    Attributes:
        file: the file.
        where: ``line N`` for text, or a JSON path in a trace file
            (``chunks[3].data.choices[0].delta.content``).
        kind: detector kind (``api_key``, ``email``, ...).
    """

    file: str
    where: str
    kind: str


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Yield the files named, and the files below the directories named (VCS and virtual
    environment directories skipped), in sorted order.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    yield Path(root) / name
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")


def scan_bytes(redactor: Redactor, data: bytes, file: str) -> list[Leak]:
    """Scan one file's content. A TraceForge trace is checked the way the proxy redacts it
    (so a secret split across stream chunks is found); other text as a whole, each finding
    reported at the line where it starts (so multi-line PEM keys are found); binary
    content (a NUL byte) is skipped."""
    if b"\0" in data[:8192]:
        return []
    if file.endswith(".json") and b'"schema_version"' in data:
        try:
            trace = decode_trace(data, source=file)
        except TraceSchemaError:
            pass
        else:
            report = redactor.redact_trace(trace)
            return [
                Leak(file, where, kind)
                for where, kinds in sorted(report.fields.items())
                for kind in sorted(kinds)
            ]
    text = data.decode("utf-8", "replace")
    # The whole text at once, so matches that span lines (PEM private key blocks) are found;
    # each is reported at the line where it starts.
    line_starts: list[int] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        line_starts.append(offset)
        offset += len(line)
    return [
        Leak(file, f"line {bisect.bisect_right(line_starts, finding.start)}", finding.kind)
        for finding in redactor.find(text)
    ]


def scan_file(redactor: Redactor, path: Path) -> list[Leak]:
    """Scan one file (see :func:`scan_bytes`); files over :data:`MAX_BYTES` are skipped.

    Raises:
        OSError: the file cannot be read.
    """
    if path.stat().st_size > MAX_BYTES:
        return []
    return scan_bytes(redactor, path.read_bytes(), str(path))
