"""Test files of the API: the shared test-file API (:mod:`traceforge_shared.evals.files`)
plus what only the API needs: the :data:`TestName` type of its bodies, the listing by name,
and deletion.

A name is the file's path below ``<home>/tests`` without the suffix (``sky``,
``smoke/sky``), so the API sees the same files as ``traceforge test run``, subfolders
included; a file whose name is not a valid test name (:data:`NAME_RE`: a space, say) is left
out of the listing, since no URL could address it. A name's file must resolve inside
``<home>/tests`` (a symlink pointing elsewhere is refused), so no name reaches a file outside
the home. Saving follows the shared collision rule (refused unless ``overwrite``).

Nothing here knows HTTP; :mod:`traceforge_web_api.routes.tests` maps the errors to answers.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Annotated

import msgspec

from traceforge_shared.evals.files import (
    NAME_RE,
    find_test_file,
    find_test_files,
    test_name_of,
    tests_dir,
)

__all__ = ["NAME_RE", "TestName", "delete_test", "list_test_files"]

#: A test name, for the structs of request and answer bodies (their schemas carry the pattern).
TestName = Annotated[str, msgspec.Meta(pattern=NAME_RE.pattern)]

_LOCK = threading.Lock()


def list_test_files(home: Path) -> list[Path]:
    """Return the test files under ``<home>/tests`` (subfolders included, sorted by path)
    whose names (:func:`~traceforge_shared.evals.files.test_name_of`) are valid test names
    and that resolve inside the folder (symlinks leading out are skipped)."""
    root = tests_dir(home).resolve()
    return [
        path
        for path in find_test_files(home)
        if NAME_RE.fullmatch(test_name_of(home, path)) and path.resolve().is_relative_to(root)
    ]


def delete_test(home: Path, name: str) -> bool:
    """Delete test ``name``; return whether it existed.

    Raises:
        InvalidTestName: bad name (see :func:`~traceforge_shared.evals.files.find_test_file`).
    """
    with _LOCK:
        path = find_test_file(home, name)
        if path is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
