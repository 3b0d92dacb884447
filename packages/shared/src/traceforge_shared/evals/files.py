"""Test files of a TraceForge home: where they are, what they are called, how they are saved.

The one test-file API of the CLI, the TUI and the web API:

- :func:`tests_dir`: ``<home>/tests``; :func:`find_test_files`: every test file under it,
  subfolders included (hidden files and folders skipped), sorted by path.
- A test's **name** is its path below ``<home>/tests`` without the suffix, with ``/``
  between folders (``sky``, ``smoke/sky``); each part matches :data:`NAME_PART` (letters,
  digits, ``_ . -``; not starting with ``.``). :func:`test_file_stem` makes a name from any
  text, :func:`trace_test_stem` from a trace (its first user message).
- :func:`validate_test_file` checks text or a file; :func:`read_test_file` reads one for a
  listing (never raises).
- :func:`save_test_file` / :func:`write_test_file` validate, then write atomically.

**The collision rule**, the same everywhere: saving where a test file of that name exists
(``.yaml`` or ``.yml``) is refused with :class:`TestFileExists`, which names the existing
file, unless the caller asks otherwise with ``on_collision``: ``"overwrite"`` replaces that
file in place (``traceforge test create-from-trace --force``, ``"overwrite": true`` in the
API), ``"suffix"`` saves as the first free ``<stem>-2.yaml``, ``<stem>-3.yaml``, ...
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any, Literal, NamedTuple

from traceforge_shared.evals.authoring import default_test_name
from traceforge_shared.evals.loader import (
    TEST_FILE_SUFFIXES,
    TestFileError,
    discover_tests,
    load_test_file,
    load_test_text,
)
from traceforge_shared.evals.testcase import TestCase
from traceforge_shared.store.files import write_temp
from traceforge_shared.trace import Trace
from traceforge_shared.yaml_fast import parse_yaml_fast
from traceforge_shared.yamlfile import YamlProblem, line_of

__all__ = [
    "NAME_PART",
    "NAME_RE",
    "STEM_MAX_CHARS",
    "TESTS_DIRNAME",
    "FileLines",
    "InvalidTestName",
    "OnCollision",
    "TestFileExists",
    "check_test_name",
    "document_lines",
    "find_test_file",
    "find_test_files",
    "read_test_file",
    "save_test_file",
    "slugify",
    "test_file_lines",
    "test_file_stem",
    "test_name_of",
    "tests_dir",
    "trace_test_stem",
    "validate_test_file",
    "write_test_file",
]

#: Folder of the test files inside a home.
TESTS_DIRNAME = "tests"
#: Longest file name stem made from a test's name.
STEM_MAX_CHARS = 60
#: One part of a test name (a folder or the file stem).
NAME_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
#: What a test name may be: parts joined by ``/``.
NAME_RE = re.compile(rf"^{NAME_PART}(?:/{NAME_PART})*$")

#: What to do when the file to save exists: refuse (default), replace it, or number the new
#: one (``-2``, ``-3``, ...).
OnCollision = Literal["error", "overwrite", "suffix"]

_LOCK = threading.Lock()


class InvalidTestName(ValueError):
    """A name that is not a test name, or whose file would be outside ``<home>/tests``."""

    __test__ = False  # not a pytest test class


class TestFileExists(FileExistsError):
    """A test file of that name exists and the caller did not ask to replace or number it.

    Attributes:
        path: the existing file.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, path: Path) -> None:
        super().__init__(f"test file {path} exists")
        self.path = path


def tests_dir(home: Path) -> Path:
    """Return ``<home>/tests``."""
    return home / TESTS_DIRNAME


def slugify(text: str, limit: int = STEM_MAX_CHARS) -> str:
    """``text`` as a file name stem: accents dropped (``Zoë`` -> ``zoe``), lower-case ASCII
    letters and digits joined by ``-``, cut at a word to at most ``limit`` characters (a first
    word longer than that is cut); ``""`` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = ""
    for word in re.findall(r"[a-z0-9]+", ascii_text.lower()):
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            return slug or word[:limit]
        slug = candidate
    return slug


def test_file_stem(name: str) -> str:
    """The file name stem of a test called ``name``: :func:`slugify` of it (at most 60
    characters), ``test`` when nothing is left."""
    return slugify(name) or "test"


def trace_test_stem(trace: Trace, name: str | None = None) -> str:
    """The file name stem of a test made from ``trace``: :func:`test_file_stem` of ``name``,
    default the trace's first user message (``trace-<id8>`` when it has none)."""
    return test_file_stem(name or default_test_name(trace))


test_file_stem.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
trace_test_stem.__test__ = False  # type: ignore[attr-defined]


def check_test_name(name: str) -> str:
    """Return ``name`` if it is a test name (see :data:`NAME_RE`).

    Raises:
        InvalidTestName: it is not.
    """
    if not NAME_RE.fullmatch(name):
        raise InvalidTestName(
            f"not a test name: {name!r} (parts of 1-128 letters, digits, '_', '.', '-', "
            "starting with a letter or digit, joined by '/')"
        )
    return name


def find_test_files(home: Path) -> list[Path]:
    """Every test file (``*.yaml``, ``*.yml``) under ``<home>/tests``, subfolders included,
    hidden files and folders skipped, sorted by path; ``[]`` when there is no folder."""
    folder = tests_dir(home)
    return discover_tests([folder]) if folder.is_dir() else []


def test_name_of(home: Path, path: Path) -> str:
    """The name of the test file ``path`` under ``<home>/tests``: its relative path without
    the suffix, ``/`` between folders (``smoke/sky``).

    Raises:
        ValueError: ``path`` is not under ``<home>/tests``.
    """
    relative = path.relative_to(tests_dir(home))
    return relative.with_suffix("").as_posix()


test_name_of.__test__ = False  # type: ignore[attr-defined]


def find_test_file(home: Path, name: str) -> Path | None:
    """Return the file of test ``name`` (``.yaml`` first, then ``.yml``), or ``None``.

    Raises:
        InvalidTestName: not a test name, or its file resolves outside ``<home>/tests`` or is
            not a file.
    """
    check_test_name(name)
    root = tests_dir(home)
    for suffix in TEST_FILE_SUFFIXES:
        path = root / f"{name}{suffix}"
        if path.is_symlink() or path.exists():
            if not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
                raise InvalidTestName(f"test {name!r} is not a file inside {root}")
            return path
    return None


def validate_test_file(source: str | Path, *, path: Path | None = None) -> TestCase:
    """Check a test file: ``source`` is its text (``path`` names it in errors, default
    ``test.yaml``) or the file itself.

    Returns:
        the test.

    Raises:
        TestFileError: what is wrong, with the file, line and field.
    """
    if isinstance(source, Path):
        return load_test_file(source)
    return load_test_text(source, path or Path("test.yaml"))


def read_test_file(path: Path) -> tuple[str, TestCase | None, TestFileError | None]:
    """Return a test file's text (undecodable bytes replaced) and the test, or the loader's
    error (also when the file cannot be read: the text is then ``""``). Never raises."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return "", None, TestFileError(path, f"cannot read: {exc.strerror or exc}")
    try:
        return text, load_test_file(path), None
    except TestFileError as exc:
        return text, None, exc


class FileLines(NamedTuple):
    """Where things are in a test file (1-based lines, for editors and ``--json`` output).

    Attributes:
        name: line of the ``name:`` key (1 when there is none).
        assertions: line of each item of ``assertions`` (``None`` when unknown), in order.
        source_trace: line of the ``source_trace:`` key, or ``None``.
    """

    name: int
    assertions: list[int | None]
    source_trace: int | None


def test_file_lines(text: str) -> FileLines:
    """The lines of a test file's ``name``, assertions and ``source_trace`` in ``text``.

    Never raises: text that is not valid YAML or not a mapping gives
    ``FileLines(1, [], None)``; a broken assertion list gives no assertion lines.
    """
    try:
        doc: Any = parse_yaml_fast(text)
    except YamlProblem:
        return FileLines(1, [], None)
    return document_lines(doc)


test_file_lines.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def document_lines(doc: Any) -> FileLines:
    """:func:`test_file_lines` of a test file already parsed (the document of
    :func:`~traceforge_shared.yaml_fast.parse_yaml_fast`,
    :func:`~traceforge_shared.yamlfile.parse_yaml` or
    :func:`~traceforge_shared.evals.loader.load_test_document`). Never raises."""
    if not isinstance(doc, dict):
        return FileLines(1, [], None)
    name = line_of(doc, ["name"]) if "name" in doc else None
    source = line_of(doc, ["source_trace"]) if "source_trace" in doc else None
    items = doc.get("assertions")
    count = len(items) if isinstance(items, list) else 0
    lines = [line_of(doc, ["assertions", index]) for index in range(count)]
    return FileLines(name or 1, lines, source)


def save_test_file(
    home: Path,
    name: str,
    text: str,
    *,
    on_collision: OnCollision = "error",
    fsync: bool = True,
) -> tuple[Path, TestCase]:
    """Validate ``text`` and save it as test ``name`` (see :data:`NAME_RE`) under
    ``<home>/tests``, following the module's collision rule. An existing ``.yml`` file of
    that name is the one overwritten; a new file is ``<name>.yaml``.

    Returns:
        ``(path written, the test)``.

    Raises:
        InvalidTestName: ``name`` is not a test name, or resolves outside ``<home>/tests``.
        TestFileError: the text is not a valid test; nothing is written.
        TestFileExists: the file exists and ``on_collision`` is ``"error"``.
        OSError: the file cannot be written.
    """
    existing = find_test_file(home, name)
    target = existing or tests_dir(home) / f"{name}.yaml"
    root = tests_dir(home).resolve()
    if not target.parent.resolve().is_relative_to(root):  # a symlinked folder leading out
        raise InvalidTestName(f"test {name!r} would not be inside {tests_dir(home)}")
    return write_test_file(target, text, on_collision=on_collision, fsync=fsync)


def write_test_file(
    path: Path,
    text: str,
    *,
    on_collision: OnCollision = "error",
    fsync: bool = True,
) -> tuple[Path, TestCase]:
    """Validate ``text`` as a test file and write it to ``path`` (any location; its folder
    is created), atomically: a hidden temporary file renamed or hard-linked into place, so
    readers never see part of it and two writers cannot both create the same file.

    ``on_collision`` when ``path`` (or the same stem with the other suffix, ``.yaml`` /
    ``.yml``) exists: ``"error"`` raises :class:`TestFileExists`; ``"overwrite"`` replaces
    ``path``; ``"suffix"`` writes ``<stem>-2<suffix>``, ``-3``, ... the first that is free.

    Returns:
        ``(path written, the test)``.

    Raises:
        TestFileError: the text is not a valid test (its ``path`` is ``path``); nothing is
            written.
        TestFileExists: see ``on_collision``.
        OSError: the file cannot be written.
    """
    case = load_test_text(text, path)
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        tmp = write_temp(path, data, fsync=fsync, mode=0o666)
        try:
            if on_collision == "overwrite":
                os.replace(tmp, path)
                return path, case
            for number in range(1, 10_000):
                target = path if number == 1 else path.with_stem(f"{path.stem}-{number}")
                taken = _taken(target)
                if taken is None and _link(tmp, target):
                    return target, case
                if on_collision == "error":
                    raise TestFileExists(taken or target)
            raise TestFileExists(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _taken(path: Path) -> Path | None:
    """The existing file that a test file at ``path`` would collide with: ``path`` or the
    same stem with the other test suffix."""
    for suffix in dict.fromkeys((path.suffix, *TEST_FILE_SUFFIXES)):
        candidate = path.with_suffix(suffix)
        if candidate.is_symlink() or candidate.exists():
            return candidate
    return None


def _link(tmp: Path, target: Path) -> bool:
    """Put ``tmp`` at ``target`` unless ``target`` exists; return whether it was put."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: check, then rename
        if target.exists():
            return False
        os.replace(tmp, target)
    return True
