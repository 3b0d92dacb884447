"""``/api/tests``: the regression test files of ``<home>/tests`` and test runs.

Routes (``{name}`` is a test file's path below ``<home>/tests`` without the suffix:
``sky``, ``smoke/sky``; see :mod:`traceforge_web_api.testfiles`):

- ``GET /api/tests`` -> ``200 {"dir", "tests": [TestEntry, ...]}``: the files under
  ``<home>/tests``, subfolders included, as ``traceforge test run`` finds them, sorted by
  path; a file the loader refuses is listed with ``valid: false`` and its ``error``.
- ``GET /api/tests/{name}`` -> ``200`` :class:`TestDetail` (the YAML text and the parsed test).
- ``POST /api/tests`` with ``{"trace_id", "name"?, "overwrite"?}`` (a test made from a
  recorded trace; ``name`` is the test's name, default its first user message, and the file
  is named after it like ``traceforge test create-from-trace`` does) or with
  ``{"name", "yaml", "overwrite"?}`` (the file's text, validated by the loader and saved as
  sent) -> ``201`` :class:`TestDetail`; ``409`` the file exists and ``overwrite`` is not
  true (the shared collision rule of :mod:`traceforge_shared.evals.files`, as in the CLI
  and the TUI); ``422`` :class:`TestRefused` (nothing written).
- ``DELETE /api/tests/{name}`` -> ``204``.
- ``POST /api/tests/run`` with ``{"names"?: [...], "tags"?: [...], "mode"?: "replay"|"proxy"}``
  -> ``200`` the :class:`~traceforge_shared.evals.TestRun`, also saved under
  ``<home>/results``. Without ``names`` every test runs; ``tags`` keeps the tests having one
  of them. Files that do not load are ``error`` results first, as in the CLI. ``replay``
  (default) checks each test against its recorded trace, offline; ``proxy`` sends the
  requests through the capture proxy, which needs the runner ``traceforge start`` gives the
  API (``501`` without one). Either runs on an event loop of its own in a worker thread, never
  on the API's (which is the capture proxy's in ``traceforge start``).

Errors: ``400`` bad name or body, ``404`` no such test (or trace), ``409``, ``422``, ``501``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread
import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from traceforge_shared.evals import TestCase, TestFileError, TestRun, test_from_trace
from traceforge_shared.evals.files import (
    InvalidTestName,
    TestFileExists,
    check_test_name,
    find_test_file,
    read_test_file,
    save_test_file,
    test_name_of,
    tests_dir,
    trace_test_stem,
)
from traceforge_shared.evals.replay import load_error_result, replay_tests
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.store import StoreError
from traceforge_web_api.common import (
    ApiError,
    convert_body,
    get_store,
    json_response,
    read_json_object,
    route,
    store_error,
)
from traceforge_web_api.testfiles import TestName, delete_test, list_test_files

#: Runs tests through the capture proxy: ``await runner(cases, mode)`` -> the run. Given to
#: :func:`traceforge_web_api.create_app` by ``traceforge start``. Called in a worker thread,
#: on an event loop of its own (not the API's), so it must not use the API's loop.
TestRunner = Callable[[list[tuple[Path, TestCase]], str], Awaitable[TestRun]]

#: ``app.state`` attribute holding the :data:`TestRunner` (or ``None``).
RUNNER_STATE_KEY = "test_runner"


class TestProblem(msgspec.Struct, kw_only=True):
    """Why a test file does not load.

    Attributes:
        message: ``<file>:<line>: <field>: <reason>`` (line and field when known).
        line: 1-based line, when known.
        field: the offending field (``assertions[1].max_ms``), when known.
    """

    __test__ = False

    message: str
    line: int | None
    field: str | None


class TestEntry(msgspec.Struct, kw_only=True):
    """One test file in ``GET /api/tests``.

    Attributes:
        name: the file's path below ``<home>/tests`` without the suffix (``smoke/sky``),
            the test's handle in the API.
        file: absolute path of the file.
        valid: whether the file loads.
        test_name: the test's own ``name:`` (``null`` when invalid).
        description: the test's description.
        tags: the test's tags.
        error: why the file does not load (``null`` when valid).
    """

    __test__ = False

    name: TestName
    file: str
    valid: bool
    test_name: str | None
    description: str | None
    tags: list[str]
    error: TestProblem | None


class TestList(msgspec.Struct, kw_only=True):
    """``GET /api/tests``.

    Attributes:
        dir: absolute path of the tests directory.
        tests: the test files, subfolders included, sorted by path.
    """

    __test__ = False

    dir: str
    tests: list[TestEntry]


class TestDetail(msgspec.Struct, kw_only=True):
    """One test file: ``GET /api/tests/{name}``, ``POST /api/tests``.

    Attributes:
        name: the file's path below ``<home>/tests`` without the suffix.
        file: absolute path of the file.
        yaml: the file's text.
        valid: whether the file loads.
        test: the loaded test (``null`` when invalid).
        error: why the file does not load (``null`` when valid).
    """

    __test__ = False

    name: TestName
    file: str
    yaml: str
    valid: bool
    test: TestCase | None
    error: TestProblem | None


class TestFromTrace(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/tests`` body making a test from a recorded trace.

    Attributes:
        trace_id: the trace's id or a unique prefix.
        name: the test's name (its file is named after it); default: the first user message.
        overwrite: replace an existing file of that name.
    """

    __test__ = False

    trace_id: str
    name: str | None = None
    overwrite: bool = False


class TestFromYaml(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/tests`` body saving a test file's text.

    Attributes:
        name: the file's path below ``<home>/tests`` without the suffix (``sky``,
            ``smoke/sky``; see :data:`~traceforge_shared.evals.files.NAME_RE`).
        yaml: the file's text, saved as sent once the loader accepts it.
        overwrite: replace an existing file of that name.
    """

    __test__ = False

    name: TestName
    yaml: str
    overwrite: bool = False


class TestRunRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/tests/run`` body.

    Attributes:
        names: the tests to run (test names); default all.
        tags: only tests with at least one of these tags.
        mode: ``replay`` (offline, against recorded traces) or ``proxy`` (live, recorded).
    """

    __test__ = False

    names: list[TestName] | None = None
    tags: list[str] | None = None
    mode: Literal["replay", "proxy"] = "replay"


class TestRefused(msgspec.Struct, kw_only=True):
    """``422`` of ``POST /api/tests``: the loader refused the test file.

    Attributes:
        error: ``<file>:<line>: <field>: <reason>``.
        line: 1-based line in the text, when known.
        field: the offending field, when known.
    """

    __test__ = False

    error: str
    line: int | None
    field: str | None


def _problem(error: TestFileError | None) -> TestProblem | None:
    if error is None:
        return None
    return TestProblem(message=str(error), line=error.line, field=error.field)


def _entry(home: Path, path: Path) -> TestEntry:
    _, case, error = read_test_file(path)
    return TestEntry(
        name=test_name_of(home, path),
        file=str(path.absolute()),
        valid=case is not None,
        test_name=case.name if case else None,
        description=case.description if case else None,
        tags=case.tags if case else [],
        error=_problem(error),
    )


def _detail(home: Path, path: Path) -> TestDetail:
    text, case, error = read_test_file(path)
    return TestDetail(
        name=test_name_of(home, path),
        file=str(path.absolute()),
        yaml=text,
        valid=case is not None,
        test=case,
        error=_problem(error),
    )


def _existing(home: Path, name: str) -> Path:
    try:
        path = find_test_file(home, name)
    except InvalidTestName as exc:
        raise ApiError(400, str(exc)) from None
    if path is None:
        raise ApiError(404, f"no test named {name!r} in {tests_dir(home)}")
    return path


def list_tests(request: Request) -> Response:
    """``GET /api/tests`` -> ``200`` :class:`TestList`."""
    home = get_store(request).home
    entries = [_entry(home, path) for path in list_test_files(home)]
    return json_response(TestList(dir=str(tests_dir(home).absolute()), tests=entries))


def get_test(request: Request) -> Response:
    """``GET /api/tests/{name}`` -> ``200`` :class:`TestDetail`; ``400`` bad name;
    ``404`` no such test."""
    home = get_store(request).home
    return json_response(_detail(home, _existing(home, request.path_params["name"])))


def remove_test(request: Request) -> Response:
    """``DELETE /api/tests/{name}`` -> ``204``; ``400`` bad name; ``404`` no such test."""
    home = get_store(request).home
    name = request.path_params["name"]
    try:
        deleted = delete_test(home, name)
    except InvalidTestName as exc:
        raise ApiError(400, str(exc)) from None
    if not deleted:
        raise ApiError(404, f"no test named {name!r} in {tests_dir(home)}")
    return Response(status_code=204)


def _create(request: Request, data: dict[str, Any]) -> Response:
    store = get_store(request)
    if "trace_id" in data:
        spec = convert_body(data, TestFromTrace)
        try:
            trace = store.get(spec.trace_id)
        except StoreError as exc:
            raise store_error(exc) from None
        try:
            text = test_from_trace(trace, name=spec.name)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        name = trace_test_stem(trace, spec.name)
        overwrite = spec.overwrite
    elif "yaml" in data:
        from_yaml = convert_body(data, TestFromYaml)
        name, text, overwrite = from_yaml.name, from_yaml.yaml, from_yaml.overwrite
    else:
        raise ApiError(
            400,
            'the body must be {"trace_id": ..., "name"?: ...} or {"name": ..., "yaml": ...}',
        )
    try:
        path, _ = save_test_file(
            store.home,
            check_test_name(name),
            text,
            on_collision="overwrite" if overwrite else "error",
            fsync=store.fsync,
        )
    except InvalidTestName as exc:
        raise ApiError(400, str(exc)) from None
    except TestFileExists as exc:
        raise ApiError(409, f"{exc}; send overwrite: true to replace it") from None
    except TestFileError as exc:
        return json_response(TestRefused(error=str(exc), line=exc.line, field=exc.field), 422)
    return json_response(_detail(store.home, path), 201)


async def create_test(request: Request) -> Response:
    """``POST /api/tests``: see the module docstring for the two bodies.

    Returns:
        ``201`` :class:`TestDetail`; ``400`` bad body or name; ``404``/``409``/``422`` for
        the trace as in ``GET /api/traces/{id}``; ``409`` the test exists; ``422``
        :class:`TestRefused` or a trace that is not a chat call.
    """
    data = await read_json_object(request)
    return await run_in_threadpool(_create, request, data)


def _select(
    home: Path, spec: TestRunRequest
) -> tuple[list[tuple[Path, TestCase]], list[TestFileError]]:
    if spec.names is None:
        paths = list_test_files(home)
    else:
        paths, missing = [], []
        for name in dict.fromkeys(spec.names):
            try:
                path = find_test_file(home, name)
            except InvalidTestName as exc:
                raise ApiError(400, str(exc)) from None
            if path is None:
                missing.append(name)
            else:
                paths.append(path)
        if missing:
            raise ApiError(404, f"no test named {', '.join(map(repr, missing))}", missing=missing)
    cases: list[tuple[Path, TestCase]] = []
    errors: list[TestFileError] = []
    for path in paths:
        _, case, error = read_test_file(path)
        if case is not None:
            cases.append((path, case))
        elif error is not None:
            errors.append(error)
    if spec.tags:
        wanted = set(spec.tags)
        cases = [(path, case) for path, case in cases if wanted & set(case.tags)]
    return cases, errors


async def _off_loop(start: Callable[[], Awaitable[TestRun]]) -> TestRun:
    """Call ``start`` and await its run on an event loop of its own in a worker thread.

    Assertions are CPU work on text chosen by a test file (a regex, a JSON schema, a fuzzy
    match of a long answer); in ``traceforge start`` the API shares its event loop with the
    capture proxy, so a slow assertion there would stall every proxied call.
    """

    async def main() -> TestRun:
        return await start()

    return await anyio.to_thread.run_sync(asyncio.run, main())


async def run_tests(request: Request) -> Response:
    """``POST /api/tests/run``: run tests and save the run.

    Returns:
        ``200`` the :class:`~traceforge_shared.evals.TestRun`; ``400`` bad body or name;
        ``404`` a named test does not exist (``missing`` lists them); ``501`` ``proxy`` mode
        without a runner.
    """
    spec = convert_body(await read_json_object(request), TestRunRequest)
    store = get_store(request)
    runner: TestRunner | None = getattr(request.app.state, RUNNER_STATE_KEY, None)
    if spec.mode == "proxy" and runner is None:
        raise ApiError(
            501,
            "proxy mode needs the capture proxy's test runner, which this API was not "
            'given (`traceforge start` provides it); use "mode": "replay" to check the '
            "recorded traces offline, or `traceforge test run`",
        )
    cases, errors = await run_in_threadpool(_select, store.home, spec)
    if spec.mode == "proxy" and runner is not None:
        run = await _off_loop(lambda: runner(cases, spec.mode))
    else:
        run = await _off_loop(lambda: replay_tests(cases, store))
    run.results[:0] = [load_error_result(error) for error in errors]
    await run_in_threadpool(ResultStore(store.home, fsync=store.fsync).save, run)
    return json_response(run)


routes: list[BaseRoute] = [
    route("/api/tests", {"GET": list_tests, "POST": create_test}, name="tests"),
    route("/api/tests/run", {"POST": run_tests}, name="test_run"),
    route("/api/tests/{name:path}", {"GET": get_test, "DELETE": remove_test}, name="test"),
]
