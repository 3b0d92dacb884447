"""Redacted values in a test's request: ``${TRACEFORGE_*}`` variables filled at run time.

A trace is saved redacted (``[EMAIL_REDACTED:3f2a]``, see
:mod:`traceforge_shared.redact.placeholders`), so a test made from it would send the marker to
the model. ``create-from-trace`` writes a variable in each marker's place instead, named for
its kind (``${TRACEFORGE_EMAIL_1}``, ``${TRACEFORGE_API_KEY_1}``; the same hashed marker, i.e.
the same value, gets the same variable), and the runner fills them from the environment just
before sending (:func:`prepare_case`). Only names starting with ``TRACEFORGE_`` are variables,
so a prompt quoting ``${HOME}`` is sent as written. A test whose request still holds a marker,
or names a variable that is not set, is not sent: that test is an error saying which.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from traceforge_shared.evals.testcase import TestCase
from traceforge_shared.redact.placeholders import MARKER

__all__ = [
    "VARIABLE",
    "RequestNotReady",
    "find_markers",
    "prepare_case",
    "replace_markers",
    "variable_names",
]

#: A variable: ``${TRACEFORGE_<NAME>}``.
VARIABLE = re.compile(r"\$\{(TRACEFORGE_[A-Z0-9_]+)\}")
_KIND = re.compile(r"\[([A-Z0-9_]*?)_?REDACTED")


class RequestNotReady(ValueError):
    """A test's request cannot be sent as is: a variable is not set, or a redaction marker
    is left in it. ``str()`` is the sentence for the test's result."""


def _walk(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _walk(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value


def find_markers(value: Any) -> list[str]:
    """The redaction markers in ``value`` (JSON data), in order, each once."""
    found: dict[str, None] = {}

    def note(text: str) -> str:
        for match in MARKER.finditer(text):
            found.setdefault(match.group().removeprefix("Bearer "), None)
        return text

    _walk(value, note)
    return list(found)


def _kind(marker: str) -> str:
    match = _KIND.match(marker)
    kind = match.group(1) if match and match.group(1) else "SECRET"
    return kind.strip("_") or "SECRET"


def replace_markers(
    value: Any, values: Mapping[str, str] | None = None
) -> tuple[Any, dict[str, str]]:
    """``value`` with each redaction marker replaced: by ``values[marker]`` when given, else
    by a variable named for its kind. Returns ``(new value, {marker: variable name})`` for the
    markers that became variables. A hashed marker (``[EMAIL_REDACTED:3f2a]``) is one value,
    so it is one variable wherever it occurs; each plain one (``[EMAIL_REDACTED]``) may hide
    a different value, so each occurrence gets its own."""
    given = dict(values or {})
    names: dict[str, str] = {}
    counts: dict[str, int] = {}

    def variable(marker: str) -> str:
        if marker in given:
            return given[marker]
        hashed = ":" in marker
        if hashed and marker in names:
            return f"${{{names[marker]}}}"
        kind = _kind(marker)
        counts[kind] = counts.get(kind, 0) + 1
        name = f"TRACEFORGE_{kind}_{counts[kind]}"
        names[marker if hashed else f"{marker}#{counts[kind]}"] = name
        return f"${{{name}}}"

    def change(text: str) -> str:
        return MARKER.sub(
            lambda m: (
                ("Bearer " if m.group().startswith("Bearer ") else "")
                + variable(m.group().removeprefix("Bearer "))
            ),
            text,
        )

    return _walk(value, change), names


def variable_names(value: Any) -> list[str]:
    """The ``${TRACEFORGE_*}`` variables ``value`` uses, in order, each once."""
    found: dict[str, None] = {}

    def note(text: str) -> str:
        for match in VARIABLE.finditer(text):
            found.setdefault(match.group(1), None)
        return text

    _walk(value, note)
    return list(found)


def prepare_case(case: TestCase, environ: Mapping[str, str] | None = None) -> TestCase:
    """``case`` with its request's variables filled from ``environ`` (default
    ``os.environ``): the request to send.

    Raises:
        RequestNotReady: a variable is not set (the message names every missing one), or a
            redaction marker is in the request (it would be sent to the model as is).
    """
    env = os.environ if environ is None else environ
    missing = [name for name in variable_names(case.request) if name not in env]
    if missing:
        raise RequestNotReady(
            f"environment variable {', '.join(missing)} is not set: the test's request uses "
            f"${{{missing[0]}}} for a value redacted from the recorded trace; set it to the "
            "real value, or edit the test"
        )
    markers = find_markers(case.request)
    if markers:
        raise RequestNotReady(
            f"the request holds the redaction marker {markers[0]} (the recorded value was "
            "redacted); it would be sent to the model as is. Replace it with the real value "
            "or a ${TRACEFORGE_...} variable, or recreate the test with create-from-trace"
        )
    if not variable_names(case.request):
        return case
    request = _walk(case.request, lambda text: VARIABLE.sub(lambda m: env[m.group(1)], text))
    return msgspec.structs.replace(case, request=request)
