"""Test files of the API: ``<home>/tests/<name>.yaml`` (or ``.yml``), addressed by name.

A name is the file's stem and must match :data:`NAME_RE` (letters, digits, ``_ . -``; no
separator, no leading dot), and the file it names must resolve inside ``<home>/tests``
(a symlink pointing elsewhere is refused), so no name reaches a file outside the home. The
API sees the files directly in ``tests/``; files in subdirectories are left to the CLI.

Nothing here knows HTTP; :mod:`traceforge_web_api.routes.tests` maps the errors to answers.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path
from typing import Annotated

import msgspec

from traceforge_shared.evals import TestCase, TestFileError, load_test_file
from traceforge_shared.evals.loader import TEST_FILE_SUFFIXES
from traceforge_shared.store.files import write_temp

#: What a test name (file stem) may be.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

#: A test name, for the structs of request and answer bodies (their schemas carry the pattern).
TestName = Annotated[str, msgspec.Meta(pattern=NAME_RE.pattern)]

_LOCK = threading.Lock()


class InvalidTestName(ValueError):
    """A name that is not a test name, or whose file would be outside ``<home>/tests``."""


class TestExists(FileExistsError):
    """A test with this name exists and overwriting was not asked for."""

    __test__ = False  # not a pytest test class


class InvalidTest(ValueError):
    """Test file content the loader refuses.

    Attributes:
        reason, line, field: as in :class:`~traceforge_shared.evals.TestFileError`.
    """

    def __init__(self, path: Path, error: TestFileError) -> None:
        self.reason = error.reason
        self.line = error.line
        self.field = error.field
        where = f"{path}:{error.line}" if error.line else str(path)
        what = f"{error.field}: " if error.field else ""
        super().__init__(f"{where}: {what}{error.reason}")


def tests_dir(home: Path) -> Path:
    """Return ``<home>/tests``."""
    return home / "tests"


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid test name.

    Raises:
        InvalidTestName: it is not.
    """
    if not NAME_RE.fullmatch(name):
        raise InvalidTestName(
            f"not a test name: {name!r} (1-128 letters, digits, '_', '.', '-'; "
            "starting with a letter or digit)"
        )
    return name


def _inside(path: Path, home: Path) -> bool:
    root = tests_dir(home).resolve()
    return path.resolve().parent == root


def find_test(home: Path, name: str) -> Path | None:
    """Return the file of test ``name`` (``.yaml`` first, then ``.yml``), or ``None``.

    Raises:
        InvalidTestName: not a valid name, or the file resolves outside ``<home>/tests``.
    """
    check_name(name)
    for suffix in TEST_FILE_SUFFIXES:
        path = tests_dir(home) / f"{name}{suffix}"
        if path.is_symlink() or path.exists():
            if not _inside(path, home) or not path.is_file():
                raise InvalidTestName(f"test {name!r} is not a file inside {tests_dir(home)}")
            return path
    return None


def list_test_files(home: Path) -> list[Path]:
    """Return the test files directly in ``<home>/tests`` whose names are valid test names,
    sorted by name (hidden files and symlinks leading out of the directory skipped)."""
    folder = tests_dir(home)
    if not folder.is_dir():
        return []
    found = [
        path
        for path in folder.iterdir()
        if path.suffix in TEST_FILE_SUFFIXES
        and NAME_RE.fullmatch(path.stem)
        and path.is_file()
        and _inside(path, home)
    ]
    return sorted(found, key=lambda p: (p.stem, p.suffix != ".yaml"))


def read_test(path: Path) -> tuple[str, TestCase | None, TestFileError | None]:
    """Return a test file's text (undecodable bytes replaced) and the loaded test, or the
    loader's error (also when the file cannot be read: the text is then ``""``)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return "", None, TestFileError(path, f"cannot read: {exc.strerror or exc}")
    try:
        return text, load_test_file(path), None
    except TestFileError as exc:
        return text, None, exc


def save_test(
    home: Path, name: str, text: str, *, overwrite: bool = False, fsync: bool = True
) -> tuple[Path, TestCase]:
    """Validate ``text`` with the test loader and save it as test ``name``.

    The text is written to a hidden temporary file in ``<home>/tests`` and loaded; only a
    valid test is moved into place, atomically (a new file is created with a hard link, so
    two clients cannot both create it). An existing ``.yml`` file of that name is replaced in
    place; otherwise the file is ``<name>.yaml``.

    Raises:
        InvalidTestName: bad name.
        TestExists: the test exists and ``overwrite`` is false.
        InvalidTest: the loader refuses the text (nothing is written).
        OSError: the file cannot be written.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        line = text.count("\n", 0, exc.start) + 1
        problem = TestFileError(Path(name), "not valid Unicode text", line=line)
        raise InvalidTest(tests_dir(home) / f"{name}.yaml", problem) from None
    with _LOCK:
        existing = find_test(home, name)
        if existing is not None and not overwrite:
            raise TestExists(
                f"test {name!r} exists ({existing}); send overwrite: true to replace it"
            )
        target = existing or tests_dir(home) / f"{name}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp(target, data, fsync=fsync)
        try:
            try:
                case = load_test_file(tmp)
            except TestFileError as exc:
                raise InvalidTest(target, exc) from None
            if overwrite:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    raise TestExists(f"test {name!r} exists ({target})") from None
                except OSError:  # a file system without hard links: check, then rename
                    if target.exists():
                        raise TestExists(f"test {name!r} exists ({target})") from None
                    os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return target, case


def delete_test(home: Path, name: str) -> bool:
    """Delete test ``name``; return whether it existed.

    Raises:
        InvalidTestName: bad name.
    """
    with _LOCK:
        path = find_test(home, name)
        if path is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
