"""Checking assertions (:mod:`traceforge_shared.evals.testcase`) against the trace of a run.

:func:`evaluate` turns one assertion and a trace into an
:class:`~traceforge_shared.evals.testcase.AssertionResult` whose ``message`` says what was
expected and what the trace had. It never raises for trace content: a missing field, an error
trace, a malformed answer or a bad pattern in the test file all give a failed result.

Text assertions read their ``field`` (:mod:`traceforge_shared.evals.fields`); a field that is not
a string is compared as its compact JSON text (``{"a":1}``, ``null``, ``42``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from rapidfuzz import fuzz

from traceforge_shared.cost import cost_usd
from traceforge_shared.evals.fields import FieldNotFoundError, json_type, resolve_trace_data
from traceforge_shared.evals.graded import ModelAccess
from traceforge_shared.evals.promptfoo_types import MORE_CHECKS, Outcome
from traceforge_shared.evals.testcase import (
    Assertion,
    AssertionResult,
    Contains,
    ContainsAll,
    ContainsAny,
    Cost,
    Exact,
    FinishReason,
    Fuzzy,
    IContains,
    IsJson,
    JsonPath,
    JsonSchema,
    Latency,
    NotContains,
    Regex,
    StartsWith,
    TokenCount,
    ToolCall,
)
from traceforge_shared.trace import Trace

#: Characters of a value shown in a message before it is cut.
PREVIEW_CHARS = 120

_FINISH_REASON_FIELD = "response.choices[0].finish_reason"
_MESSAGE_FIELD = "response.choices[0].message"


class _Outcome(msgspec.Struct):
    passed: bool
    message: str
    score: float | None = None
    #: the check could not run (bad pattern, no usage): a failure even when negated
    error: bool = False
    skipped: bool = False


class _Context:
    """The trace of a run, converted to plain data once for all its assertions."""

    def __init__(self, trace: Trace, access: ModelAccess | None = None) -> None:
        self.trace = trace
        self.access = access
        self._data: Any = None
        self._converted = False

    def field(self, path: str) -> Any:
        """The value at ``path``; raises ``FieldNotFoundError`` or ``ValueError``."""
        if not self._converted:
            self._data = msgspec.to_builtins(self.trace)
            self._converted = True
        return resolve_trace_data(self.trace, self._data, path)


def evaluate(
    assertion: Assertion, trace: Trace, access: ModelAccess | None = None
) -> AssertionResult:
    """Check one assertion against the trace of a run.

    Args:
        assertion: any member of :data:`~traceforge_shared.evals.testcase.Assertion`.
        trace: the run's trace; chat calls carry an OpenAI ``chat.completion`` in
            ``response`` (streams: rebuilt from the chunks); fields a Responses API trace
            does not have are read from its chat completion view
            (:func:`~traceforge_shared.evals.fields.resolve_trace_data`).

    Returns:
        The result: canonical ``type``, ``passed``, a ``message`` with what was expected and
        the actual value (long values cut to :data:`PREVIEW_CHARS` characters), the
        assertion's ``description``, and ``score`` (0-1) for ``fuzzy``, ``similar`` and
        ``llm_rubric``. ``negate`` inverts ``passed`` of a check that ran; run-based types
        are ``skipped`` (passed, with a message saying why).
        access: where ``llm_rubric`` and ``similar`` send model calls (the capture proxy);
            ``None`` (replay, direct runs): ``llm_rubric`` fails saying it needs the proxy,
            ``similar`` uses rapidfuzz.

    Never raises for any trace content or assertion values: problems (missing field, invalid
    field path, bad regex or schema, non-JSON text, unknown cost, a failed model call) are
    failed results.
    """
    return _evaluate(assertion, _Context(trace, access))


def evaluate_all(
    assertions: Sequence[Assertion], trace: Trace, access: ModelAccess | None = None
) -> list[AssertionResult]:
    """Check each assertion against ``trace``, in order (all of them: no stop at the first
    failure), as :func:`evaluate`. Returns one :class:`AssertionResult` per assertion; never
    raises for trace content."""
    context = _Context(trace, access)
    return [_evaluate(assertion, context) for assertion in assertions]


def _evaluate(assertion: Assertion, context: _Context) -> AssertionResult:
    config = getattr(type(assertion), "__struct_config__", None)
    tag = getattr(config, "tag", None)
    kind = tag if isinstance(tag, str) else type(assertion).__name__
    description = getattr(assertion, "description", None)
    check = _CHECKS.get(type(assertion))
    try:
        if check is None:
            outcome = _Outcome(False, f"unknown assertion type {kind!r}")
        else:
            outcome = check(assertion, context)
    except (FieldNotFoundError, ValueError) as error:
        outcome = _Outcome(False, str(error), error=True)
    except Exception as error:  # never let a trace or a test file crash the run
        message = f"could not check {kind}: {type(error).__name__}: {error}"
        outcome = _Outcome(False, message, error=True)
    if getattr(assertion, "negate", False) and not (outcome.error or outcome.skipped):
        kind = f"not-{kind}"
        verdict = "held" if outcome.passed else "did not hold"
        message = f"negated: the check {verdict}: {outcome.message}"
        outcome = _Outcome(not outcome.passed, message, outcome.score)
    return AssertionResult(
        type=kind,
        passed=outcome.passed,
        message=outcome.message,
        description=description if isinstance(description, str) else None,
        score=outcome.score,
        skipped=outcome.skipped,
    )


# --- formatting -------------------------------------------------------------------------------


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _as_text(value: Any) -> str:
    """A field's value as text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else _compact_json(value)


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """``text`` quoted on one line; past ``limit`` characters cut, with its full length:
    ``'Quantum computing uses…' (412 chars)``."""
    if len(text) <= limit:
        return repr(text)
    quoted = repr(text[:limit])
    return f"{quoted[:-1]}…{quoted[-1]} ({len(text)} chars)"


def _json_preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """``value`` as compact JSON, cut like :func:`_preview` (unquoted)."""
    text = _compact_json(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} chars)"


def _value_preview(value: Any) -> str:
    """Strings quoted like :func:`_preview`, other values as compact JSON."""
    return _preview(value) if isinstance(value, str) else _json_preview(value)


def _quote_all(values: Sequence[str]) -> str:
    return ", ".join(_preview(v, 60) for v in values)


def _number(value: float) -> str:
    """``123.0`` → ``123``, ``12.345`` → ``12.3``."""
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def _usd(value: float) -> str:
    """Dollars with as many decimals as a small cost needs: ``$0.01``, ``$0.000045``."""
    if value == 0:
        return "$0"
    if abs(value) < 1e-8:
        return f"${value:.2e}"
    text = f"{value:.8f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


def _score(score: float, threshold: float) -> str:
    """A 0-1 score with 2 decimals, more when 2 would make it look equal to ``threshold``."""
    for digits in (2, 4, 6):
        if f"{score:.{digits}f}" != f"{threshold:.{digits}f}":
            return f"{score:.{digits}f}"
    return f"{score:.6f}"


# --- text assertions --------------------------------------------------------------------------


def _text(assertion: Assertion, context: _Context) -> str:
    return _as_text(context.field(assertion.field))


def _text_outcome(
    a: Assertion, text: str, passed: bool, ok: str, expected: str, detail: str = ""
) -> _Outcome:
    """``ok`` when ``passed``; else ``expected <field> to <expected>; <detail>it was <text>``."""
    if passed:
        return _Outcome(True, ok)
    return _Outcome(False, f"expected {a.field} to {expected}; {detail}it was {_preview(text)}")


def _was(field: str, text: str) -> str:
    return f"{field}; it was {_preview(text)}"


def _check_exact(a: Exact, context: _Context) -> _Outcome:
    text = _text(a, context)
    at = next(
        (i for i, (x, y) in enumerate(zip(text, a.value, strict=False)) if x != y),
        min(len(text), len(a.value)),
    )
    return _text_outcome(
        a,
        text,
        text == a.value,
        f"equals {_preview(a.value)}",
        f"equal {_preview(a.value)}",
        f"it differs from character {at}: ",
    )


def _check_contains(a: Contains, context: _Context) -> _Outcome:
    text = _text(a, context)
    hint = ""
    if a.value.casefold() in text.casefold():
        hint = " (it does ignoring case: use icontains)"
    ok = f"contains {_preview(a.value)}"
    return _text_outcome(a, text, a.value in text, ok, f"contain {_preview(a.value)}{hint}")


def _check_icontains(a: IContains, context: _Context) -> _Outcome:
    text = _text(a, context)
    what = f"{_preview(a.value)} (ignoring case)"
    found = a.value.casefold() in text.casefold()
    return _text_outcome(a, text, found, f"contains {what}", f"contain {what}")


def _check_not_contains(a: NotContains, context: _Context) -> _Outcome:
    text = _text(a, context)
    at = text.find(a.value)
    if at < 0:
        return _Outcome(True, f"does not contain {_preview(a.value)}")
    start, end = max(0, at - 40), at + len(a.value) + 40
    excerpt = (
        f"{'…' if start > 0 else ''}{_preview(text[start:end])}{'…' if end < len(text) else ''}"
    )
    return _Outcome(
        False,
        f"expected {a.field} not to contain {_preview(a.value)}; found at character {at}: "
        f"{excerpt}",
    )


def _folder(case_sensitive: bool) -> Callable[[str], str]:
    return (lambda s: s) if case_sensitive else str.casefold


def _check_contains_any(a: ContainsAny, context: _Context) -> _Outcome:
    text = _text(a, context)
    fold = _folder(a.case_sensitive)
    case = "" if a.case_sensitive else " (ignoring case)"
    found = [v for v in a.values if fold(v) in fold(text)]
    if not a.values:
        return _Outcome(False, "contains_any has no values to look for")
    ok = f"contains {_preview(found[0])}{case}" if found else ""
    return _text_outcome(a, text, bool(found), ok, f"contain any of {_quote_all(a.values)}{case}")


def _check_contains_all(a: ContainsAll, context: _Context) -> _Outcome:
    text = _text(a, context)
    fold = _folder(a.case_sensitive)
    case = "" if a.case_sensitive else " (ignoring case)"
    missing = [v for v in a.values if fold(v) not in fold(text)]
    what = f"all of {_quote_all(a.values)}{case}"
    detail = f"missing {_quote_all(missing)}; "
    return _text_outcome(a, text, not missing, f"contains {what}", f"contain {what}", detail)


def _check_starts_with(a: StartsWith, context: _Context) -> _Outcome:
    text = _text(a, context)
    hint = ""
    if text.lstrip().startswith(a.value):
        hint = " (it does after leading whitespace)"
    ok = f"starts with {_preview(a.value)}"
    return _text_outcome(
        a, text, text.startswith(a.value), ok, f"start with {_preview(a.value)}{hint}"
    )


#: Longest a ``regex`` assertion may search, in seconds. Patterns come from test files, and
#: one with catastrophic backtracking (``^(a|a)*$``) takes time doubling per character of the
#: answer: past this the assertion fails ("regex timed out after 1 s") instead of freezing the
#: run. The ``regex`` module checks its clock while backtracking; a search may overrun the
#: limit by about as much again.
REGEX_TIMEOUT_S = 1.0


def _check_regex(a: Regex, context: _Context) -> _Outcome:
    import regex  # type: ignore[import-untyped]  # imported on first use, like jsonschema

    try:
        re.compile(a.pattern)  # the syntax and messages of Python's `re`, as documented
        pattern = regex.compile(a.pattern)
    except (re.error, regex.error, RecursionError, OverflowError) as error:
        return _Outcome(
            False, f"invalid regular expression {_preview(a.pattern)}: {error}", error=True
        )
    text = _text(a, context)
    try:
        # concurrent: the GIL is released while it searches, so other threads (the proxy's
        # event loop, when the run is in the proxy's process) keep running
        match = pattern.search(text, timeout=REGEX_TIMEOUT_S, concurrent=True)
    except TimeoutError:
        return _Outcome(
            False,
            f"regex timed out after {REGEX_TIMEOUT_S:g} s: /{a.pattern}/ on the "
            f"{len(text):,} characters of {a.field} (catastrophic backtracking? simplify "
            "nested quantifiers like (a+)+)",
            error=True,
        )
    if match:
        return _Outcome(True, f"matches /{a.pattern}/ at {_preview(match.group())}")
    return _Outcome(False, f"expected {a.field} to match /{a.pattern}/; it was {_preview(text)}")


def _check_fuzzy(a: Fuzzy, context: _Context) -> _Outcome:
    text = _text(a, context)
    score = float(fuzz.ratio(text, a.value)) / 100.0
    shown = _score(score, a.threshold)
    if score >= a.threshold:
        return _Outcome(
            True,
            f"similarity {shown} >= threshold {a.threshold:.2f} to {_preview(a.value)}",
            score,
        )
    return _Outcome(
        False,
        f"expected {a.field} to be similar to {_preview(a.value)} "
        f"(threshold {a.threshold:.2f}); similarity {shown}, it was {_preview(text)}",
        score,
    )


# --- JSON assertions --------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str) -> Any:
    """Strict JSON (no ``NaN``/``Infinity``); raises ``ValueError`` with the position."""
    return json.loads(text, parse_constant=_reject_constant)


def _json_error(error: ValueError, text: str) -> str:
    detail = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
    where = ""
    if isinstance(error, json.JSONDecodeError):
        where = f" at line {error.lineno} column {error.colno}"
    hint = ""
    if text.lstrip().startswith("```"):
        hint = " (it is wrapped in a ``` code fence)"
    return f"{detail}{where}{hint}"


def _field_json(field: str, context: _Context, purpose: str) -> tuple[Any, str | None]:
    """The field as JSON data: strings parsed, other values as they are. Returns
    ``(data, None)`` or ``(None, failure message)``."""
    value = context.field(field)
    if not isinstance(value, str):
        return value, None
    try:
        return _parse_json(value), None
    except ValueError as error:
        return None, (
            f"expected {field} to be JSON{purpose}; it is not valid JSON: "
            f"{_json_error(error, value)}; it was {_preview(value)}"
        )


def _check_is_json(a: IsJson, context: _Context) -> _Outcome:
    value = context.field(a.field)
    if value is None:
        return _Outcome(False, f"expected {a.field} to be JSON text; it was null (no text)")
    if not isinstance(value, str):
        return _Outcome(True, f"is JSON ({json_type(value)})")
    try:
        parsed = _parse_json(value)
    except ValueError as error:
        return _Outcome(
            False,
            f"expected {a.field} to be valid JSON; {_json_error(error, value)}; "
            f"it was {_preview(value)}",
        )
    return _Outcome(True, f"is valid JSON ({json_type(parsed)})")


def _check_json_schema(a: JsonSchema, context: _Context) -> _Outcome:
    # Imported on first use: jsonschema takes ~0.1 s to import, and most runs never need it.
    import jsonschema  # type: ignore[import-untyped]
    import referencing
    import referencing.exceptions
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    validator_class = jsonschema.validators.validator_for(
        a.schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(a.schema)
    except jsonschema.SchemaError as error:
        return _Outcome(False, f"invalid JSON schema: {error.message}", error=True)
    data, failure = _field_json(a.field, context, " for json_schema")
    if failure is not None:
        return _Outcome(False, failure)
    # An empty registry: ``$ref`` resolves within the schema, never over the network.
    validator = validator_class(
        a.schema, format_checker=validator_class.FORMAT_CHECKER, registry=referencing.Registry()
    )
    try:
        errors = list(validator.iter_errors(data))
    except referencing.exceptions.Unresolvable as error:
        return _Outcome(
            False,
            f"invalid JSON schema: cannot resolve $ref {error.ref!r} "
            "(only references within the schema are followed; remote schemas are not fetched)",
        )
    if not errors:
        return _Outcome(True, "matches the JSON schema")
    worst = best_match(errors)  # the library's pick of the most relevant error
    more = f" (+{len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return _Outcome(
        False,
        f"expected {a.field} to match the JSON schema; at {worst.json_path}: "
        f"{_cut(worst.message)}{more}",
    )


def _cut(text: str, limit: int = 2 * PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: ``1 == 1.0``, but ``true != 1``."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(
            _json_equal(x, y) for x, y in zip(left, right, strict=True)
        )
    return bool(left == right)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda x, y: bool(x < y),
    "<=": lambda x, y: bool(x <= y),
    ">": lambda x, y: bool(x > y),
    ">=": lambda x, y: bool(x >= y),
}


def _compare(actual: Any, operator: str, expected: Any) -> bool | str:
    """``actual operator expected``: a bool, or why the two cannot be compared."""
    if operator == "==":
        return _json_equal(actual, expected)
    if operator == "!=":
        return not _json_equal(actual, expected)
    if operator == "contains":
        if isinstance(actual, str):
            if isinstance(expected, str):
                return expected in actual
            return f"a string contains only strings, not {json_type(expected)}"
        if isinstance(actual, list):
            return any(_json_equal(item, expected) for item in actual)
        return f"contains needs a string or an array, it was {json_type(actual)}"
    order = _ORDER.get(operator)
    if order is None:
        return f"unknown operator {operator!r}"
    if _is_number(actual) and _is_number(expected):
        if any(isinstance(v, float) and math.isnan(v) for v in (actual, expected)):
            return "NaN cannot be ordered"
        return order(actual, expected)
    if isinstance(actual, str) and isinstance(expected, str):
        return order(actual, expected)
    return f"cannot order {json_type(actual)} against {json_type(expected)}"


def _check_json_path(a: JsonPath, context: _Context) -> _Outcome:
    import jsonpath  # imported on first use, like jsonschema

    try:
        query = jsonpath.compile(a.path, strict=True)
    except (jsonpath.JSONPathError, RecursionError) as error:
        lines = str(error).strip().splitlines()
        detail = lines[0] if lines else type(error).__name__
        hint = ""
        if not a.path.lstrip().startswith("$"):
            hint = " (a JSONPath starts with '$', e.g. '$.name')"
        return _Outcome(False, f"invalid JSONPath {a.path!r}: {detail}{hint}", error=True)
    data, failure = _field_json(a.field, context, " for json_path")
    if failure is not None:
        return _Outcome(False, failure)
    if isinstance(data, dict | list):
        try:
            matches = query.findall(data)
        except (jsonpath.JSONPathError, RecursionError) as error:
            return _Outcome(False, f"JSONPath {a.path!r} failed on {a.field}: {error}")
    else:  # a scalar document: only the root query selects it
        matches = [data] if a.path.strip() == "$" else []
    expected = f"{a.path} {a.operator} {_json_preview(a.value)}"
    if not matches:
        if isinstance(data, dict) and data:
            shape = f"its keys: {', '.join(map(str, list(data)[:12]))}"
        elif isinstance(data, list):
            shape = f"it is an array of {len(data)}"
        else:
            shape = f"it is {json_type(data)}"
        return _Outcome(False, f"expected {expected}; no value at {a.path} in {a.field} ({shape})")
    # One node: its value. Several (wildcards, filters): the list of their values.
    actual = matches[0] if len(matches) == 1 else list(matches)
    result = _compare(actual, a.operator, a.value)
    if isinstance(result, str):
        return _Outcome(
            False, f"cannot check {expected}: {result} (it was {_json_preview(actual)})"
        )
    if result:
        return _Outcome(
            True, f"{a.path} was {_json_preview(actual)} ({a.operator} {_json_preview(a.value)})"
        )
    return _Outcome(False, f"expected {expected}; it was {_json_preview(actual)}")


# --- trace measurements -----------------------------------------------------------------------


def _check_token_count(a: TokenCount, context: _Context) -> _Outcome:
    usage = context.trace.metadata.usage
    what = f"{a.count} tokens"
    if usage is None:
        return _Outcome(
            False, f"cannot check {what}: no token usage recorded in the trace", error=True
        )
    count = {
        "completion": usage.completion_tokens,
        "prompt": usage.prompt_tokens,
        "total": usage.total_tokens,
    }[a.count]
    if a.min is not None and a.max is not None:
        bounds = f"between {a.min} and {a.max}"
    elif a.min is not None:
        bounds = f">= {a.min}"
    elif a.max is not None:
        bounds = f"<= {a.max}"
    else:
        return _Outcome(True, f"{what}: {count} (no bounds given)")
    ok = (a.min is None or count >= a.min) and (a.max is None or count <= a.max)
    if ok:
        return _Outcome(True, f"{what}: {count} ({bounds})")
    return _Outcome(False, f"expected {what} {bounds}; it was {count}")


def _check_latency(a: Latency, context: _Context) -> _Outcome:
    latency = context.trace.metadata.latency_ms
    if latency <= a.max_ms:
        return _Outcome(True, f"latency {_number(latency)} ms <= {_number(a.max_ms)} ms")
    return _Outcome(
        False, f"expected latency <= {_number(a.max_ms)} ms; it was {_number(latency)} ms"
    )


def _check_cost(a: Cost, context: _Context) -> _Outcome:
    trace = context.trace
    cost = cost_usd(trace)
    if cost is None:
        model = trace.response_model or trace.model or "(no model)"
        if trace.metadata.usage is None:
            return _Outcome(
                False,
                f"cost unknown for {trace.provider}/{model} (no token usage recorded)",
                error=True,
            )
        return _Outcome(
            False,
            f"cost unknown for {trace.provider}/{model} (no price in genai-prices)",
            error=True,
        )
    if cost <= a.max_usd:
        return _Outcome(True, f"cost {_usd(cost)} <= {_usd(a.max_usd)}")
    return _Outcome(False, f"expected cost <= {_usd(a.max_usd)}; it was {_usd(cost)}")


def _check_finish_reason(a: FinishReason, context: _Context) -> _Outcome:
    reason = context.field(_FINISH_REASON_FIELD)
    if reason == a.value:
        return _Outcome(True, f"finish_reason {a.value!r}")
    return _Outcome(
        False,
        f"expected {_FINISH_REASON_FIELD} to be {a.value!r}; it was {_value_preview(reason)}",
    )


def _tool_calls(message: Any) -> list[tuple[str, Any]]:
    """``(name, arguments)`` of each tool call of an OpenAI assistant message."""
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    out: list[tuple[str, Any]] = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            out.append((function["name"], function.get("arguments")))
    return out


def _check_tool_call(a: ToolCall, context: _Context) -> _Outcome:
    calls = _tool_calls(context.field(_MESSAGE_FIELD))
    named = [args for name, args in calls if name == a.name]
    if not named:
        called = ", ".join(_preview(name, 60) for name, _ in calls)
        actual = f"tools called: {called}" if calls else "no tool was called"
        return _Outcome(False, f"expected a call to tool {a.name!r}; {actual}")
    if a.arguments is None:
        return _Outcome(True, f"called {a.name!r}")
    seen: list[str] = []
    for raw in named:
        if isinstance(raw, str):
            try:
                args = _parse_json(raw)
            except ValueError:
                seen.append(f"{_preview(raw)} (not valid JSON)")
                continue
        else:
            args = raw
        if not isinstance(args, dict):
            seen.append(f"{_json_preview(args)} (not an object)")
            continue
        wrong = [k for k, v in a.arguments.items() if k not in args or not _json_equal(args[k], v)]
        if not wrong:
            return _Outcome(True, f"called {a.name!r} with {_json_preview(a.arguments)}")
        seen.append(_json_preview(args))
    calls_text = "; ".join(seen)
    plural = "calls" if len(seen) > 1 else "call"
    return _Outcome(
        False,
        f"expected a call to tool {a.name!r} with arguments {_json_preview(a.arguments)}; "
        f"its {plural} had arguments {calls_text}",
    )


_CHECKS: dict[type[Any], Callable[[Any, _Context], _Outcome]] = {
    Exact: _check_exact,
    Contains: _check_contains,
    IContains: _check_icontains,
    NotContains: _check_not_contains,
    ContainsAny: _check_contains_any,
    ContainsAll: _check_contains_all,
    StartsWith: _check_starts_with,
    Regex: _check_regex,
    IsJson: _check_is_json,
    JsonSchema: _check_json_schema,
    JsonPath: _check_json_path,
    Fuzzy: _check_fuzzy,
    TokenCount: _check_token_count,
    Latency: _check_latency,
    Cost: _check_cost,
    FinishReason: _check_finish_reason,
    ToolCall: _check_tool_call,
}


def _adapted(check: Callable[[Any, Any], Outcome]) -> Callable[[Any, _Context], _Outcome]:
    def run(assertion: Any, context: _Context) -> _Outcome:
        o = check(assertion, context)
        return _Outcome(o.passed, o.message, o.score, error=o.error, skipped=o.skipped)

    return run


_CHECKS.update({cls: _adapted(check) for cls, check in MORE_CHECKS.items()})

__all__ = ["PREVIEW_CHARS", "ModelAccess", "evaluate", "evaluate_all"]
