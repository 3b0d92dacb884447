"""Finding and reading test files (``.ai-tests/tests/*.yaml``) into :class:`TestCase`.

Every problem with a file's content is a :class:`TestFileError` that names the file, the line
and the field, the way compilers report errors::

    .ai-tests/tests/sky.yaml:12: assertions[1].max_ms: Expected `float`, got `str`

:func:`load_tests` collects these per file, so one broken file never stops the others.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args

import msgspec

from traceforge_shared.errors import FileProblem
from traceforge_shared.evals.aliases import canonicalize
from traceforge_shared.evals.fixtures import resolve_fixtures
from traceforge_shared.evals.testcase import Assertion, Regex, TestCase
from traceforge_shared.yaml_fast import parse_yaml_fast, read_yaml_fast
from traceforge_shared.yamlfile import YamlProblem, line_of, locate_error, to_plain

_Source = TypeVar("_Source", str, Path)

#: File name endings of test files in a directory.
TEST_FILE_SUFFIXES = (".yaml", ".yml")

_ASSERTION_TYPES: dict[str, type[Any]] = {
    cls.__struct_config__.tag: cls for cls in get_args(Assertion)
}


class TestFileError(FileProblem):
    """A test file that cannot be used: a :class:`~traceforge_shared.errors.FileProblem`.

    ``str()`` is ``"<path>:<line>: <field>: <reason>"``; the line and field are left out
    when unknown.

    Args:
        path: the file.
        reason: what is wrong.
        line: 1-based line of the offending value, when known.
        field: path of the offending field (``assertions[1].max_ms``), when known.
    """

    __test__ = False  # not a pytest test class

    path: Path

    def __init__(
        self, path: Path, reason: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(path, reason, line=line, field=field)


def load_test_file(path: Path) -> TestCase:
    """Read one test file (UTF-8 YAML) into a :class:`TestCase`.

    The other spellings of :mod:`traceforge_shared.evals.aliases` (``id``, ``type: jsonpath``,
    ``not-<type>``, ``expected``, ``response_time: {max: ...}``, ``field: response.content``)
    become the canonical ones, ``{{ fixtures.<name> }}`` references their values
    (:mod:`traceforge_shared.evals.fixtures`); YAML-specific values become plain Python
    (timestamps: ISO 8601 text). The file is parsed with libyaml
    (:func:`~traceforge_shared.yaml_fast.read_yaml_fast`: ruamel's values, lines and errors).

    Raises:
        TestFileError: for any problem with the file or its content: it cannot be read, is not
            UTF-8 or not valid YAML, is not a mapping, has an unknown assertion type (the
            message lists the known types and aliases), a missing, unknown or wrongly typed
            field, no ``request.model`` or ``request.messages``, or an invalid ``regex``
            pattern. The error names the line and the field where they are known.
    """
    return _load(path, read_yaml_fast, path)


def load_test_document(path: Path) -> tuple[TestCase, Any]:
    """:func:`load_test_file`, also returning the parsed document (of
    :func:`~traceforge_shared.yaml_fast.parse_yaml_fast`, read-only: for
    :func:`~traceforge_shared.yamlfile.line_of` and
    :func:`~traceforge_shared.evals.files.document_lines`): a caller that needs the lines of
    a test's parts parses the file once.

    Raises:
        TestFileError: as :func:`load_test_file`.
    """
    docs: list[Any] = []

    def parse(source: Path) -> Any:
        docs.append(read_yaml_fast(source))
        return docs[0]

    return _load(path, parse, path), docs[0]


def load_test_text(text: str, path: Path) -> TestCase:
    """Parse ``text``, the content meant for the test file ``path``, into a
    :class:`TestCase`, as :func:`load_test_file` would read it from that file.

    Raises:
        TestFileError: as :func:`load_test_file` (its ``path`` is ``path``); also for a lone
            surrogate, which UTF-8 cannot hold.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can carry
        line = text.count("\n", 0, exc.start) + 1
        raise TestFileError(path, "not valid Unicode text", line=line) from None
    return _load(path, parse_yaml_fast, text)


def _load(path: Path, parse: Callable[[_Source], Any], source: _Source) -> TestCase:
    """``_case_of(parse(source))``, its problem as a :class:`TestFileError` of ``path``."""
    try:
        return _case_of(parse(source))
    except YamlProblem as problem:
        raise TestFileError(
            path, problem.reason, line=problem.line, field=problem.field
        ) from problem


def _case_of(doc: Any) -> TestCase:
    """The test of a parsed document (see :func:`load_test_file`).

    Raises:
        YamlProblem: what is wrong, with its line and field.
    """
    if not isinstance(doc, dict):
        got = "empty" if doc is None else f"a {type(to_plain(doc)).__name__}"
        raise YamlProblem(
            f"a test file must be a mapping (name:, request:, assertions:), not {got}",
            line=line_of(doc, []) if doc is not None else None,
        )
    plain = to_plain(doc)
    canonicalize(plain, doc)
    resolve_fixtures(plain, doc)
    try:
        case = msgspec.convert(plain, TestCase)
    except msgspec.ValidationError as exc:
        problem = locate_error(doc, exc)
        if problem.reason == "unknown field" and problem.field:
            problem.reason += _known_fields(plain, problem.field)
        raise problem from exc
    except RecursionError as exc:
        raise YamlProblem("the document is nested too deeply") from exc
    _check_patterns(doc, case)
    return case


def _known_fields(plain: dict[str, Any], field: str) -> str:
    """``"; known: ..."`` for an unknown top-level or assertion field, else ``""``."""
    cls: type[Any] | None = TestCase if "." not in field and "[" not in field else None
    match = re.fullmatch(r"assertions\[(\d+)\]\.[^.\[]+", field)
    if match:
        assertions = plain.get("assertions")
        item = assertions[int(match.group(1))] if isinstance(assertions, list) else None
        kind = item.get("type") if isinstance(item, dict) else None
        cls = _ASSERTION_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return ""
    names = [*(["type"] if cls is not TestCase else []), *cls.__struct_fields__]
    return f"; known: {', '.join(names)}"


def _check_patterns(doc: Any, case: TestCase) -> None:
    for index, assertion in enumerate(case.assertions):
        if not isinstance(assertion, Regex):
            continue
        try:
            re.compile(assertion.pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            raise YamlProblem(
                f"invalid regular expression {assertion.pattern!r}: {exc}",
                line=line_of(doc, ["assertions", index, "pattern"]),
                field=f"assertions[{index}].pattern",
            ) from None


def discover_tests(paths: Sequence[Path]) -> list[Path]:
    """Return the test files in ``paths``, in order, each once.

    A file is taken as is, whatever its name. A directory is searched recursively for
    ``*.yaml`` and ``*.yml`` files, sorted by path; hidden directories and files (a name
    starting with ``.``) below it are skipped, and symlinked directories are not followed.

    Raises:
        FileNotFoundError: a path does not exist (``filename`` is that path).
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def add(file: Path) -> None:
        key = file.resolve()
        if key not in seen:
            seen.add(key)
            found.append(file)

    for path in paths:
        if path.is_dir():
            for file in _walk(path):
                add(file)
        elif path.exists():
            add(path)
        else:
            raise FileNotFoundError(errno.ENOENT, "no such test file or directory", str(path))
    return found


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for current, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(
            Path(current) / name
            for name in filenames
            if name.endswith(TEST_FILE_SUFFIXES) and not name.startswith(".")
        )
    return sorted(files, key=lambda f: f.relative_to(root).parts)


def load_tests(
    paths: Sequence[Path],
) -> tuple[list[tuple[Path, TestCase]], list[TestFileError]]:
    """Discover (:func:`discover_tests`) and load (:func:`load_test_file`) every test file.

    Returns ``(cases, errors)``: ``(path, test)`` for each file that loaded, and one
    :class:`TestFileError` for each that did not, both in discovery order.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    cases: list[tuple[Path, TestCase]] = []
    errors: list[TestFileError] = []
    for path in discover_tests(paths):
        try:
            cases.append((path, load_test_file(path)))
        except TestFileError as exc:
            errors.append(exc)
    return cases, errors
