"""Finding unredacted secrets and PII in files: ``traceforge redact check`` and the
pre-commit hook. Findings name the file, where in it and the kind, never the value.

Two opinions: the redaction engine's detectors (the same that redact traces), and Yelp's
detect-secrets plugins (kinds ``detect-secrets: <type>``); a finding of either is reported.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from traceforge_shared.redact.engine import Redactor
from traceforge_shared.redact.second_opinion import detect_secrets_findings
from traceforge_shared.store.errors import TraceSchemaError
from traceforge_shared.store.files import decode_trace
from traceforge_shared.trace import Trace

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


def scan_bytes(
    redactor: Redactor,
    data: bytes,
    file: str,
    *,
    second_opinion: bool = True,
    binary: bool = False,
) -> list[Leak]:
    """Scan one file's content. A TraceForge trace is checked the way the proxy redacts it
    (so a secret split across stream chunks is found); other text as a whole, each finding
    reported at the line where it starts (so multi-line PEM keys are found); binary
    content (a NUL byte in the first 8 KiB) is skipped, or with ``binary`` its printable
    runs are scanned like ``strings`` does (see :func:`scan_binary`).

    With ``second_opinion``, detect-secrets then reads what our redaction would leave (the
    text with our findings replaced by markers, line breaks kept; a trace redacted and
    encoded): what it still finds follows our findings, as ``line N`` (``redacted trace``
    for a trace file) with kind ``detect-secrets: <type>``.
    """
    if b"\0" in data[:8192]:
        return scan_binary(redactor, data, file, second_opinion=second_opinion) if binary else []
    trace = _as_trace(data, file)
    if trace is not None:
        report = redactor.redact_trace(trace)
        leaks = [
            Leak(file, where, kind)
            for where, kinds in sorted(report.fields.items())
            for kind in sorted(kinds)
        ]
        if second_opinion:
            left = msgspec.json.encode(trace).decode()
            kinds = sorted({kind for _, kind in detect_secrets_findings(left)})
            leaks.extend(Leak(file, "redacted trace", f"detect-secrets: {k}") for k in kinds)
        return leaks
    text = data.decode("utf-8", "replace")
    # The whole text at once, so matches that span lines (PEM private key blocks) are found;
    # each is reported at the line where it starts.
    line_starts: list[int] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        line_starts.append(offset)
        offset += len(line)
    findings = redactor.find(text)
    leaks = [
        Leak(file, f"line {bisect.bisect_right(line_starts, finding.start)}", finding.kind)
        for finding in findings
    ]
    if second_opinion:
        parts: list[str] = []
        last = 0
        for finding in findings:
            parts.append(text[last : finding.start])
            parts.append(finding.marker + "\n" * text.count("\n", finding.start, finding.end))
            last = finding.end
        parts.append(text[last:])
        for number, kind in detect_secrets_findings("".join(parts)):
            leaks.append(Leak(file, f"line {number}", f"detect-secrets: {kind}"))
    return leaks


#: Printable runs of a binary file that are scanned: 8+ ASCII characters (``strings -n 8``),
#: or 8+ UTF-16LE ones (``strings -e l``, Windows resources).
_ASCII_RUN = re.compile(rb"[\t\x20-\x7e]{8,}")
_UTF16_RUN = re.compile(rb"(?:[\t\x20-\x7e]\x00){8,}")


def scan_binary(
    redactor: Redactor, data: bytes, file: str, *, second_opinion: bool = True
) -> list[Leak]:
    """Scan the printable runs of binary content (an image, a SQLite file, a wheel's
    uncompressed members): each run is scanned on its own line, and a finding is reported at
    ``byte N``, the offset in ``data`` where its run starts. With ``second_opinion``,
    detect-secrets reads the runs our findings leave (kind ``detect-secrets: <type>``)."""
    runs: list[tuple[int, str]] = [
        (m.start(), m.group().decode("ascii")) for m in _ASCII_RUN.finditer(data)
    ]
    runs.extend((m.start(), m.group().decode("utf-16-le")) for m in _UTF16_RUN.finditer(data))
    leaks: list[Leak] = []
    left: list[str] = []
    for offset, text in runs:
        findings = redactor.find(text)
        leaks.extend(Leak(file, f"byte {offset}", f.kind) for f in findings)
        if second_opinion:
            parts: list[str] = []
            last = 0
            for f in findings:
                parts.extend((text[last : f.start], f.marker))
                last = f.end
            parts.append(text[last:])
            left.append("".join(parts).replace("\n", " "))
    if second_opinion and left:
        for number, kind in detect_secrets_findings("\n".join(left)):
            leaks.append(Leak(file, f"byte {runs[number - 1][0]}", f"detect-secrets: {kind}"))
    return leaks


def _as_trace(data: bytes, file: str) -> Trace | None:
    if file.endswith(".json") and b'"schema_version"' in data:
        try:
            return decode_trace(data, source=file)
        except TraceSchemaError:
            return None
    return None


def scan_file(redactor: Redactor, path: Path, *, second_opinion: bool = True) -> list[Leak]:
    """Scan one file (see :func:`scan_bytes`); files over :data:`MAX_BYTES` are skipped.

    Raises:
        OSError: the file cannot be read.
    """
    if path.stat().st_size > MAX_BYTES:
        return []
    return scan_bytes(redactor, path.read_bytes(), str(path), second_opinion=second_opinion)
