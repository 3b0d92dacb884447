"""A test run as JUnit XML (the format CI systems read), written with ``junitparser``.

One ``<testsuite name="traceforge">``; one ``<testcase>`` per test (``classname`` = the test
file, ``time`` in seconds; a test run on several ``models`` is one per model, named
``<name> [<model>]``); a failed test has a ``<failure>`` whose message lists the failed
assertions; a test that could not run has an ``<error>``. The trace id of each run and the
assertion messages go to ``<system-out>``.
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, TestSuite
from junitparser import TestCase as JUnitCase

from traceforge_shared.evals import TestRun


def junit_xml(run: TestRun) -> JUnitXml:
    """Build the JUnit document of ``run``."""
    suite = TestSuite("traceforge")
    suite.timestamp = run.started
    for result in run.results:
        several = sum(r.file == result.file and r.name == result.name for r in run.results) > 1
        name = f"{result.name} [{result.model}]" if several and result.model else result.name
        case = JUnitCase(name, classname=result.file, time=result.duration_ms / 1000)
        failed = [a for a in result.assertions if not a.passed]
        if result.status == "error":
            case.result = [Error(result.error or "the test could not run", "error")]
        elif failed:
            message = "; ".join(f"{a.type}: {a.message}" for a in failed)
            failure = Failure(message, "assertion")
            failure.text = "\n".join(f"FAILED {a.type}: {a.message}" for a in failed)
            case.result = [failure]
        lines = [f"trace: {result.trace_id}"] if result.trace_id else []
        lines += [
            f"{'PASS' if a.passed else 'FAIL'} {a.type}: {a.message}" for a in result.assertions
        ]
        if lines:
            case.system_out = "\n".join(lines)
        suite.add_testcase(case)
    suite.update_statistics()  # type: ignore[no-untyped-call]
    suite.time = run.duration_ms / 1000
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def write_junit(run: TestRun, path: Path) -> None:
    """Write ``run`` as JUnit XML to ``path`` (parent directories created).

    Raises:
        OSError: the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(run).write(str(path), pretty=True)
