"""``traceforge test``: LLM regression tests made from traces, run in parallel."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from traceforge_cli import context
from traceforge_cli.commands.test_migrate import migrate
from traceforge_cli.context import home_option
from traceforge_cli.errors import cli_error, os_error_text
from traceforge_cli.junit import write_junit
from traceforge_cli.output import (
    Cell,
    Column,
    format_option,
    print_rows,
    resolve_format,
    slow_notice,
)
from traceforge_cli.testjson import (
    CaseInfo,
    list_entries,
    load_infos,
    result_json,
    summary_json,
)
from traceforge_cli.testrun import Mode, RunOptions, load_error_result, run_tests
from traceforge_shared.config import Config
from traceforge_shared.evals import TestCase, TestResult, TestRun
from traceforge_shared.evals.authoring import source_problem, test_from_trace
from traceforge_shared.evals.files import (
    InvalidTestName,
    TestFileExists,
    tests_dir,
    trace_test_stem,
    write_test_file,
)
from traceforge_shared.evals.loader import TestFileError, discover_tests
from traceforge_shared.evals.replay import expand_models
from traceforge_shared.evals.results import ResultStore
from traceforge_shared.evals.schema import test_file_schema
from traceforge_shared.evals.variables import find_markers, variable_names
from traceforge_shared.store import AmbiguousTraceIdError, TraceNotFoundError, TraceStore
from traceforge_shared.trace import Trace

#: Exit status of ``test run``.
EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


@click.group()
def test() -> None:
    """Regression tests: turn a trace into a YAML test, run tests in parallel."""


test.add_command(migrate)


@test.command("create-from-trace")
@home_option
@click.argument("trace_id")
@click.option("--name", help="Test name [default: from the first user message].")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write [default: <home>/tests/<name>.yaml]; '-' prints it.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--allow-failed",
    is_flag=True,
    help="Make a test from a failed, aborted or incomplete call anyway (its assertions "
    "describe that answer).",
)
def create_from_trace(
    trace_id: str, name: str | None, out: Path | None, force: bool, allow_failed: bool
) -> None:
    """Write a test whose request is the trace's and whose assertions are drawn from its
    answer (key terms, a fuzzy baseline, finish reason, tool calls, latency and token
    budgets), each with a comment explaining it. Edit it, then `traceforge test run`.

    A failed (HTTP >= 400), aborted or incomplete call is refused unless --allow-failed.
    Values redacted from the request are asked for on a terminal (Enter keeps a variable);
    otherwise each becomes a ${TRACEFORGE_<KIND>_<n>} variable read from the environment
    when the test runs."""
    store = context.store()
    try:
        trace = store.get(trace_id)
    except (TraceNotFoundError, AmbiguousTraceIdError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    problem = source_problem(trace)
    if problem is not None and not allow_failed:
        raise click.ClickException(
            f"trace {trace.id[:8]} is not a good test source: {problem}. A test made from it "
            "would check that answer; pick a successful trace, or pass --allow-failed"
        )
    values = _ask_marker_values(trace.request)
    try:  # not a chat completion (a Responses or embeddings call, a hand-edited file)
        text = test_from_trace(trace, name=name, marker_values=values)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if out is not None and str(out) == "-":
        sys.stdout.write(text)
        return
    if out is None:
        out = tests_dir(context.home()) / f"{trace_test_stem(trace, name)}.yaml"
    try:  # the shared collision rule: refuse unless --force
        out, case = write_test_file(out, text, on_collision="overwrite" if force else "error")
    except TestFileExists as exc:
        raise click.ClickException(f"{exc}; pass --force to overwrite or --out") from exc
    except InvalidTestName as exc:
        raise click.ClickException(f"{exc}; pass another --name or --out") from exc
    console = Console()
    console.print(
        f"wrote [bold]{out}[/] from trace {trace.id[:8]}; run it: traceforge test run {out}"
    )
    names = variable_names(case.request)
    if names:
        console.print(
            f"[yellow]the request had redacted values[/]: set {', '.join(names)} in the "
            "environment before running it (a run without them fails that test)"
        )


def _interactive() -> bool:
    """Whether a person is at the terminal (stdin and stdout are ttys)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask_marker_values(request: Any) -> dict[str, str]:
    """On a terminal, the value of each redaction marker in ``request`` the user types
    (Enter: keep a ``${TRACEFORGE_*}`` variable); ``{}`` elsewhere."""
    markers = find_markers(request)
    if not markers or not _interactive():
        return {}
    click.echo(
        "The request holds values redacted when it was recorded. Type each value to write it "
        "into the test file, or press Enter to use an environment variable instead (better "
        "for secrets: the file is then safe to commit)."
    )
    values: dict[str, str] = {}
    for marker in markers:
        typed = click.prompt(f"value for {marker}", default="", show_default=False)
        if typed:
            values[marker] = typed
    return values


@test.command("schema")
def schema() -> None:
    """Print the JSON Schema of test files (for editors: yaml-language-server)."""
    sys.stdout.write(json.dumps(test_file_schema(), indent=2) + "\n")


@test.command("list")
@home_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Only tests with this tag (repeatable).")
@format_option(json_help="Print one JSON array (for editors); same as --format json.")
def list_(
    paths: tuple[Path, ...], tags: tuple[str, ...], output_format: str | None, as_json: bool
) -> None:
    """List the tests in PATHS (files or directories; default: <home>/tests) and the files
    that cannot be loaded. Exit status 0 even when some files are invalid (they are listed);
    2 for a path that does not exist. In a pipe (or --format tsv): tab-separated rows."""
    fmt = resolve_format(output_format, as_json)
    targets = list(paths) or [context.home() / "tests"]
    try:
        with slow_notice("loading tests…"):
            entries = list_entries(targets, tags) if paths or targets[0].exists() else []
    except FileNotFoundError as exc:
        raise click.UsageError(f"{exc.strerror}: {exc.filename}") from exc
    if fmt == "json":
        sys.stdout.write(json.dumps(entries, ensure_ascii=False) + "\n")
        return
    if not entries:
        Console(stderr=fmt == "tsv").print(
            f"[yellow]no tests found[/] in {', '.join(map(str, targets))}"
        )
        if fmt == "table":
            return
    rows: list[list[str | Cell]] = []
    for entry in entries:
        if "error" in entry:
            where = f"{entry['file']}:{entry['line']}" if entry["line"] else entry["file"]
            rows.append([Cell("invalid", "red"), "", "", f"{where}: {entry['error']}"])
        else:
            location = f"{entry['file']}:{entry['line']}"
            rows.append([entry["name"], ", ".join(entry["tags"]), entry["model"] or "", location])
    print_rows(fmt, TEST_LIST_COLUMNS, rows)


#: ``test list`` columns: the name and file stay whole longest.
TEST_LIST_COLUMNS = (
    Column("Test", "test", priority=0, min_width=12),
    Column("Tags", "tags", priority=3, min_width=4),
    Column("Model", "model", priority=2, min_width=8),
    Column("File", "file", priority=1, min_width=12),
)


@test.command("run")
@home_option
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--concurrency",
    "-j",
    type=click.IntRange(1, 256),
    default=5,
    show_default=True,
    help="Tests in flight at once.",
)
@click.option(
    "--direct",
    is_flag=True,
    help="Call each provider straight from the SDK client (no proxy; the built-in mock for "
    "providers without a key); nothing is recorded, results have no trace ids.",
)
@click.option(
    "--replay",
    is_flag=True,
    help="Offline: check each test against its recorded trace instead of calling a provider.",
)
@click.option("--tag", "tags", multiple=True, help="Only tests with this tag (repeatable).")
@click.option(
    "--name",
    "names",
    multiple=True,
    help="Only tests with this name; shell wildcards allowed, e.g. 'smoke*' (repeatable).",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write JUnit XML here (for CI).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per line as results arrive, then a summary line (no table).",
)
@click.option("--watch", is_flag=True, help="Re-run tests whose files change, until Ctrl-C.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds allowed per test.",
)
def run(
    paths: tuple[Path, ...],
    concurrency: int,
    direct: bool,
    replay: bool,
    tags: tuple[str, ...],
    names: tuple[str, ...],
    junit_path: Path | None,
    as_json: bool,
    watch: bool,
    timeout_s: float,
) -> None:
    """Run the tests in PATHS (files or directories; default: <home>/tests).

    Each test's request goes through an in-process capture proxy, so every run is a trace
    (--direct: straight to the providers, no proxy, nothing recorded; --replay: no network,
    the recorded answer is checked). A test with `models:` runs once per model, with a
    comparison table. Results are kept under <home>/results/. Exit status: 0 all passed, 1 a
    test failed, 2 a test file could not be loaded, a test could not run, or --tag/--name
    matched no test (the known tags and names are listed).
    """
    if direct and replay:
        raise click.UsageError("--direct and --replay exclude each other")
    mode: Mode = "replay" if replay else "direct" if direct else "proxy"
    targets = list(paths) or [context.home() / "tests"]
    options = RunOptions(mode=mode, concurrency=concurrency, timeout_s=timeout_s)
    err = Console(stderr=True)
    try:
        discover_tests(targets)
    except FileNotFoundError as exc:
        if not paths:  # the default folder: say how to make tests
            raise click.UsageError(
                f"no tests: {targets[0]} does not exist; write one with "
                "`traceforge test create-from-trace ID`, or pass PATHS"
            ) from exc
        raise click.UsageError(f"{exc.strerror}: {exc.filename}") from exc
    session = _Session(
        home=context.home(),
        store=context.store(),
        config=context.config(),
        tags=set(tags),
        names=names,
        options=options,
        junit_path=junit_path,
        as_json=as_json,
        err=err,
    )
    status = session.run_once(targets)
    if not watch:
        raise SystemExit(status)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_watch(targets, session))


@dataclass
class _Session:
    """What every run of one ``test run`` invocation shares (also across --watch re-runs,
    which happen outside click's context)."""

    home: Path
    store: TraceStore
    config: Config
    tags: set[str]
    names: tuple[str, ...]
    options: RunOptions
    junit_path: Path | None
    as_json: bool
    err: Console

    def run_once(self, targets: Sequence[Path]) -> int:
        """Load, run and report the tests in ``targets``; return the exit status."""
        return _run_once(self, targets)


def _selected(session: _Session, case: TestCase) -> bool:
    if session.tags and not session.tags & set(case.tags):
        return False
    return not session.names or any(fnmatch.fnmatchcase(case.name, n) for n in session.names)


def _nothing_selected(session: _Session, known: list[TestCase]) -> str:
    """The message for filters that matched none of the ``known`` tests."""
    asked = [f"--tag {t}" for t in sorted(session.tags)]
    asked += [f"--name {n!r}" for n in session.names]
    tags = sorted({tag for case in known for tag in case.tags})
    shown = [case.name for case in known[:20]]
    more = f", ... ({len(known)} tests)" if len(known) > 20 else ""
    return (
        f"no test matches {' '.join(asked)} among {len(known)} tests; "
        f"known tags: {', '.join(tags) or '(none)'}; "
        f"names: {', '.join(shown) or '(none)'}{more}"
    )


def _run_once(session: _Session, targets: Sequence[Path]) -> int:
    err = session.err
    infos, load_errors = load_infos(targets)
    loaded = [(info.path, info.case) for info in infos]
    cases = [(p, c) for p, c in loaded if _selected(session, c)]
    if (session.tags or session.names) and not cases and loaded:
        err.print(f"[red]error:[/] {_nothing_selected(session, [c for _, c in loaded])}")
        return EXIT_ERROR
    if not cases and not load_errors:
        err.print(f"[yellow]no tests found[/] in {', '.join(map(str, targets))}")
    cases = expand_models(cases)
    # Each broken file is reported once: as an error result (table, --json line, JUnit).
    error_results = [load_error_result(e) for e in load_errors]
    emit: Callable[[TestResult, Trace | None], None] | None = None
    if session.as_json:
        for error, result in zip(load_errors, error_results, strict=True):
            _print_line({**result_json(result, None), "line": error.line or 1})
        emit = _JsonLines(infos).emit
    run_result = _execute(session, cases, emit)
    run_result.results[:0] = error_results
    try:
        ResultStore(session.home).save(run_result)
        if session.junit_path is not None:
            write_junit(run_result, session.junit_path)
    except OSError as exc:  # a sentence with the path, never "[Errno 20]"
        # A problem of the machine: one `traceforge: ...` line and exit 1, from the guard.
        raise cli_error(f"cannot save the results: {os_error_text(exc)}") from exc
    if session.as_json:
        _print_line(summary_json(run_result))
    else:
        _report(run_result, Console(), session.home)
    if load_errors or run_result.errors:
        return EXIT_ERROR
    return EXIT_FAILED if run_result.failed else EXIT_PASSED


def _print_line(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


class _JsonLines:
    """Prints each result of a ``--json`` run as one line as it arrives, with the actual
    values of the trace its assertions were checked against (handed over by the run, not
    read back from the store: the writer may not have saved it yet)."""

    def __init__(self, infos: list[CaseInfo]) -> None:
        self.infos = {str(info.path): info for info in infos}

    def emit(self, result: TestResult, trace: Trace | None) -> None:
        _print_line(result_json(result, self.infos.get(result.file), trace))


def _execute(
    session: _Session,
    cases: list[tuple[Path, TestCase]],
    emit: Callable[[TestResult, Trace | None], None] | None = None,
) -> TestRun:
    with Progress(
        TextColumn("[bold]Testing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
        console=session.err,
        transient=True,
        disable=not session.err.is_terminal,
    ) as progress:
        task = progress.add_task("tests", total=len(cases), last="")

        def advance(result: TestResult) -> None:
            progress.update(task, advance=1, last=f"{result.status} {result.name[:40]}")

        return asyncio.run(
            run_tests(
                cases,
                config=session.config,
                store=session.store,
                options=session.options,
                on_result=advance,
                on_trace=emit,
            )
        )


_STYLES = {"passed": "green", "failed": "red", "error": "magenta"}


def _report(run_result: TestRun, console: Console, home: Path) -> None:
    table = Table(header_style="bold", show_edge=False)
    traced = run_result.mode != "direct"  # direct runs record nothing: no trace column
    columns = ["Test", "Status", "Assertions", "Time"] + (["Trace"] if traced else [])
    for column in columns:
        table.add_column(column, justify="right" if column == "Time" else "left")
    for result in run_result.results:
        passed = sum(a.passed for a in result.assertions)
        label = f"{result.name} [{result.model}]" if _compared(run_result, result) else result.name
        cells: list[str | Text] = [
            Text(label),
            Text(result.status, style=_STYLES.get(result.status, "")),
            f"{passed}/{len(result.assertions)}" if result.assertions else "-",
            f"{result.duration_ms:,.0f} ms",
        ]
        if traced:
            cells.append((result.trace_id or "-")[:8])
        table.add_row(*cells)
    console.print(table)
    _report_models(run_result, console)
    for result in run_result.results:
        for assertion in result.assertions:
            if assertion.skipped:
                console.print(
                    f"{result.name}: {assertion.type} {assertion.message}",
                    style="dim",
                    markup=False,
                )
    for result in run_result.results:
        if result.status == "passed":
            continue
        style = _STYLES[result.status]
        shown_file = "" if (result.error or "").startswith(result.file) else result.file
        model = escape(f" [{result.model}]") if _compared(run_result, result) else ""
        console.print(
            f"\n[bold {style}]{result.status.upper()}[/] {escape(result.name)}{model}  "
            f"[dim]{escape(shown_file)}[/]"
        )
        if result.error:
            invalid = "invalid test file " if not shown_file else ""
            console.print(f"  {invalid}{result.error}", markup=False)
        for assertion in result.assertions:
            if not assertion.passed:
                why = f" ({assertion.description})" if assertion.description else ""
                console.print(f"  ✗ {assertion.type}{why}: {assertion.message}")
    summary = f"{run_result.passed} passed, {run_result.failed} failed"
    if run_result.errors:
        summary += f", {run_result.errors} errors"
    style = "green" if not (run_result.failed or run_result.errors) else "red"
    console.print(
        f"\n[bold {style}]{summary}[/] in {run_result.duration_ms / 1000:.1f} s "
        f"({run_result.mode}; results: {home / 'results' / run_result.id}.json)"
    )


def _compared(run_result: TestRun, result: TestResult) -> bool:
    """Whether ``result`` is one model of a test run on several (same file and name)."""
    return sum(r.file == result.file and r.name == result.name for r in run_result.results) > 1


def _report_models(run_result: TestRun, console: Console) -> None:
    """A table per test run on several models: status, latency, tokens and cost per model."""
    groups: dict[tuple[str, str], list[TestResult]] = {}
    for result in run_result.results:
        groups.setdefault((result.file, result.name), []).append(result)
    for (_, name), results in groups.items():
        if len(results) < 2:
            continue
        table = Table(title=f"{name}: models compared", header_style="bold", show_edge=False)
        for column in ("Model", "Status", "Assertions", "Latency", "Tokens", "Cost"):
            table.add_column(column, justify="left" if column in ("Model", "Status") else "right")
        for result in results:
            passed = sum(a.passed for a in result.assertions)
            table.add_row(
                result.model or "-",
                Text(result.status, style=_STYLES.get(result.status, "")),
                f"{passed}/{len(result.assertions)}" if result.assertions else "-",
                f"{result.latency_ms:,.0f} ms" if result.latency_ms is not None else "-",
                f"{result.total_tokens:,}" if result.total_tokens is not None else "-",
                f"${result.cost_usd:.6f}" if result.cost_usd is not None else "-",
            )
        console.print(table)


async def _watch(targets: Sequence[Path], session: _Session) -> None:
    from watchfiles import Change, awatch

    err = session.err
    err.print("[dim]watching for changes (Ctrl-C to stop)[/]")
    watched = [t for t in targets if t.exists()]
    async for changes in awatch(*watched):
        # A deleted file has nothing to run; watchfiles reports it as Change.deleted.
        changed = sorted(
            {
                Path(p)
                for kind, p in changes
                if p.endswith((".yaml", ".yml")) and kind != Change.deleted
            }
        )
        if not changed:
            continue
        err.print(f"[dim]changed: {', '.join(map(str, changed))}[/]")
        await asyncio.to_thread(session.run_once, changed)


__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_PASSED", "TestFileError", "test"]
