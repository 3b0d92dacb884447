"""Checks of the assertion types users bring from promptfoo: ``python``, ``llm_rubric``,
``similar``, ``is_valid_openai_tools_call`` and the run-based ones (skipped).

Each check takes the assertion and the run's context (:class:`_Checked`, what
:mod:`traceforge_shared.evals.assertions` passes) and returns ``(passed, message, score,
error, skipped)`` as an :class:`Outcome`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from rapidfuzz import fuzz

from traceforge_shared.evals.graded import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_GRADER_MODEL,
    ModelAccess,
    ModelCallError,
    cosine,
)
from traceforge_shared.evals.pyexpr import run_expression
from traceforge_shared.evals.testcase import (
    LlmRubric,
    MaxCost,
    Python,
    Similar,
    SpanCount,
    ToolSequence,
    ValidToolsCall,
)
from traceforge_shared.trace import Trace

__all__ = ["MORE_CHECKS", "Outcome"]

_MESSAGE_FIELD = "response.choices[0].message"


@dataclass
class Outcome:
    """What a check found (see :mod:`traceforge_shared.evals.assertions`)."""

    passed: bool
    message: str
    score: float | None = None
    error: bool = False
    skipped: bool = False


class _Checked(Protocol):
    trace: Trace
    access: ModelAccess | None

    def field(self, path: str) -> Any: ...


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _short(text: str, limit: int = 120) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit])[:-1] + "…'"


def check_python(a: Python, context: _Checked) -> Outcome:
    """Run the expression (:func:`traceforge_shared.evals.pyexpr.run_expression`)."""
    trace = context.trace
    data = msgspec.to_builtins(trace)
    output = context.field(a.field)
    variables = {
        "output": output,
        "response": data.get("response"),
        "request": data.get("request"),
        "usage": data.get("metadata", {}).get("usage"),
    }
    result = run_expression(a.value, variables, a.timeout_s)
    if result.error is not None:
        return Outcome(False, f"python {_short(a.value)}: {result.error}", error=True)
    value = result.value
    reason = ""
    score: float | None = None
    if isinstance(value, dict):
        reason = f": {value.get('reason')}" if value.get("reason") else ""
        score_value = value.get("score")
        score = float(score_value) if isinstance(score_value, int | float) else None
        passed = bool(value.get("pass", score is not None and score >= a.threshold))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        score = float(value)
        passed = score >= a.threshold
        reason = f" (score {score:g}, threshold {a.threshold:g})"
    else:
        passed = bool(value)
    said = "true" if passed else f"false (it returned {_text(value)[:80]})"
    return Outcome(passed, f"python {_short(a.value)} is {said}{reason}", score)


def check_llm_rubric(a: LlmRubric, context: _Checked) -> Outcome:
    """Ask the grader through the proxy (:meth:`ModelAccess.grade`)."""
    model = a.model or DEFAULT_GRADER_MODEL
    access = context.access
    if access is None:
        return Outcome(
            False,
            "llm_rubric needs a grader model called through the capture proxy; this run has "
            "none (--replay and --direct make no model calls): run without them",
            error=True,
        )
    why = access.unavailable(model)
    if why is not None:
        return Outcome(False, f"llm_rubric: the grader {model} cannot answer: {why}", error=True)
    output = _text(context.field(a.field))
    try:
        verdict = access.grade(output, a.value, model, a.prompt)
    except ModelCallError as error:
        return Outcome(False, f"llm_rubric: the grader {model} failed: {error}", error=True)
    passed = verdict.passed and verdict.score >= a.threshold
    traced = f"; grader trace {verdict.trace_id[:8]}" if verdict.trace_id else ""
    said = "pass" if verdict.passed else "fail"
    return Outcome(
        passed,
        f"grader {model} said {said} (score {verdict.score:.2f}, threshold {a.threshold:.2f}): "
        f"{verdict.reason}{traced}",
        verdict.score,
    )


def check_similar(a: Similar, context: _Checked) -> Outcome:
    """Cosine of embeddings through the proxy, else rapidfuzz's ratio."""
    text = _text(context.field(a.field))
    model = a.model or DEFAULT_EMBEDDING_MODEL
    access = context.access
    how = ""
    score: float | None = None
    if access is None:
        how = "rapidfuzz ratio (no proxy in this run)"
    elif (why := access.unavailable(model)) is not None:
        how = f"rapidfuzz ratio ({model} unavailable: {why})"
    else:
        try:
            (expected, actual), trace_id = access.embed([a.value, text], model)
            score = cosine(expected, actual)
            how = f"cosine of {model} embeddings" + (f", trace {trace_id[:8]}" if trace_id else "")
        except ModelCallError as error:
            how = f"rapidfuzz ratio (embeddings failed: {error})"
    if score is None:
        score = float(fuzz.ratio(text, a.value)) / 100.0
    verdict = ">=" if score >= a.threshold else "<"
    return Outcome(
        score >= a.threshold,
        f"similarity {score:.3f} {verdict} threshold {a.threshold:.2f} to {_short(a.value)} "
        f"({how}); it was {_short(text)}",
        score,
    )


def check_valid_tools_call(a: ValidToolsCall, context: _Checked) -> Outcome:
    """Each tool call names a request tool and its arguments validate against its
    ``parameters`` (JSON Schema; https://platform.openai.com/docs/guides/function-calling)."""
    import jsonschema  # type: ignore[import-untyped]  # imported on first use

    message = context.field(_MESSAGE_FIELD)
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(calls, list) or not calls:
        return Outcome(False, "expected tool calls in the answer; there were none")
    request = context.trace.request if isinstance(context.trace.request, dict) else {}
    schemas: dict[str, Any] = {}
    for tool in request.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            schemas[function["name"]] = function.get("parameters") or {"type": "object"}
    problems: list[str] = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or name not in schemas:
            known = ", ".join(schemas) or "none"
            problems.append(f"call {index}: tool {name!r} is not in the request (tools: {known})")
            continue
        raw = function.get("arguments") if isinstance(function, dict) else None
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            problems.append(f"call {index} ({name}): arguments are not JSON: {_short(str(raw))}")
            continue
        validator_class = jsonschema.validators.validator_for(schemas[name])
        error = jsonschema.exceptions.best_match(
            validator_class(schemas[name]).iter_errors(arguments)
        )
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            problems.append(f"call {index} ({name}): arguments at {where}: {error.message}")
    if problems:
        return Outcome(False, "invalid tool calls: " + "; ".join(problems))
    names = ", ".join(str(c["function"]["name"]) for c in calls)
    return Outcome(True, f"{len(calls)} valid tool call(s): {names}")


def check_run_based(a: Any, context: _Checked) -> Outcome:
    """Run-based types: skipped until TraceForge records runs."""
    kind = a.__struct_config__.tag
    return Outcome(
        True,
        f"skipped: {kind} checks a run (an agent's several spans) and runs are not recorded "
        "yet; this assertion was not checked",
        skipped=True,
    )


MORE_CHECKS: dict[type[Any], Any] = {
    Python: check_python,
    LlmRubric: check_llm_rubric,
    Similar: check_similar,
    ValidToolsCall: check_valid_tools_call,
    ToolSequence: check_run_based,
    SpanCount: check_run_based,
    MaxCost: check_run_based,
}
