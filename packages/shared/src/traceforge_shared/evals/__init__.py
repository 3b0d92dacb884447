"""LLM regression tests: test-file types, loading, assertions and results (see
:mod:`traceforge_shared.evals.testcase`)."""

from traceforge_shared.cost import cost_usd
from traceforge_shared.evals.assertions import evaluate, evaluate_all
from traceforge_shared.evals.authoring import (
    default_assertions,
    default_test_name,
    test_from_trace,
)
from traceforge_shared.evals.fields import FieldNotFoundError, resolve_field
from traceforge_shared.evals.files import (
    TestFileExists,
    find_test_files,
    save_test_file,
    test_file_stem,
    validate_test_file,
)
from traceforge_shared.evals.loader import TestFileError, discover_tests, load_test_file, load_tests
from traceforge_shared.evals.schema import test_file_schema
from traceforge_shared.evals.testcase import (
    DEFAULT_FIELD,
    TEST_STATUSES,
    TYPE_ALIASES,
    Assertion,
    AssertionResult,
    TestCase,
    TestResult,
    TestRun,
)

__all__ = [
    "DEFAULT_FIELD",
    "TEST_STATUSES",
    "TYPE_ALIASES",
    "Assertion",
    "AssertionResult",
    "FieldNotFoundError",
    "TestCase",
    "TestFileError",
    "TestFileExists",
    "TestResult",
    "TestRun",
    "cost_usd",
    "default_assertions",
    "default_test_name",
    "discover_tests",
    "evaluate",
    "evaluate_all",
    "find_test_files",
    "load_test_file",
    "load_tests",
    "resolve_field",
    "save_test_file",
    "test_file_schema",
    "test_file_stem",
    "test_from_trace",
    "validate_test_file",
]
