"""The ``traceforge-pre-commit`` hook: blocks commits of trace files and of unredacted secrets.

Published in the repository's ``.pre-commit-hooks.yaml`` (hook id ``traceforge-no-traces``);
pre-commit passes the staged file names. Exit 1 blocks the commit.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Sequence
from pathlib import PurePosixPath

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="traceforge-pre-commit",
        description="Block commits that add TraceForge trace files or unredacted secrets.",
    )
    parser.add_argument("files", nargs="*", help="staged files (pre-commit passes them)")
    parser.add_argument(
        "--trace-pattern",
        action="append",
        metavar="GLOB",
        help="a path pattern of trace files (repeatable; replaces the defaults "
        f"{', '.join(DEFAULT_TRACE_PATTERNS)})",
    )
    parser.add_argument(
        "--pii",
        action="store_true",
        help="also block emails, phone numbers, cards, SSNs and IPs (default: credentials only)",
    )
    parser.add_argument(
        "--no-content",
        action="store_true",
        help="check file names only, not what the files contain",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hook; returns the exit status (1: commit blocked)."""
    args = _parser().parse_args(argv)
    patterns = tuple(args.trace_pattern or DEFAULT_TRACE_PATTERNS)
    try:
        config = load_config(config_path(resolve_home()))
    except ConfigError as exc:
        print(f"traceforge-pre-commit: {exc}", file=sys.stderr)
        return 1
    redactor = Redactor(config.redaction, only_secrets=not args.pii)
    traces: list[tuple[str, str]] = []
    leaks: list[Leak] = []
    for file in args.files:
        pattern = trace_pattern(file, patterns)
        if pattern is not None:
            traces.append((file, pattern))
            continue
        if args.no_content:
            continue
        try:
            with open(file, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError):
            continue  # deleted or a submodule: nothing staged to read
        leaks.extend(scan_bytes(redactor, data, file))
    if not traces and not leaks:
        return 0
    out = sys.stderr
    print("TraceForge blocked this commit:", file=out)
    for file, pattern in traces:
        print(
            f"  {file}: a trace file (matches {pattern}); traces hold prompts and answers", file=out
        )
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
    sys.exit(main())
