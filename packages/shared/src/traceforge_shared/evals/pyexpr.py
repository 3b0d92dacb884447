"""The ``python`` assertion: a Python expression over the answer, in a child process.

The expression runs in a fresh interpreter (``python -I``: no user site, no environment
variables read) with a short list of builtins (no ``open``, ``__import__``, ``eval``,
``exec``) and a time limit, so a mistake in a test file (an endless loop, a typo) fails that
assertion instead of the run. This is a guard against mistakes, **not a security boundary**:
Python has no sandbox, and a hostile expression can reach ``object.__subclasses__()``. Run
only test files you trust, as you would a test suite's code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["ExpressionResult", "run_expression"]

#: The child's program: reads ``{"expression", "variables"}`` on stdin, writes one JSON line.
_CHILD = r"""
import json, math, re, sys
SAFE = ("abs all any bool dict enumerate filter float frozenset int isinstance len list map "
        "max min range repr reversed round set sorted str sum tuple zip True False None")
builtins = {name: __builtins__.__dict__[name] if hasattr(__builtins__, "__dict__")
            else __builtins__[name] for name in SAFE.split()}
job = json.loads(sys.stdin.read())
scope = {"__builtins__": builtins, "json": json, "re": re, "math": math, **job["variables"]}
try:
    value = eval(compile(job["expression"], "<python assertion>", "eval"), scope)
    if not isinstance(value, (bool, int, float, str, dict, list, type(None))):
        value = bool(value)
    print(json.dumps({"value": value}, default=str))
except SyntaxError as error:
    print(json.dumps({"error": f"invalid expression: {error.msg} at column {error.offset}"}))
except Exception as error:
    print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
"""


@dataclass(frozen=True)
class ExpressionResult:
    """What the expression returned (``value``) or why it did not (``error``)."""

    value: Any = None
    error: str | None = None


def run_expression(
    expression: str, variables: dict[str, Any], timeout_s: float
) -> ExpressionResult:
    """Evaluate ``expression`` with ``variables`` (JSON data) in a child Python process.

    Returns the value (JSON data; other objects as their truth value) or the error: a
    syntax error, an exception raised by the expression, or the child running past
    ``timeout_s`` seconds (it is killed). Never raises.
    """
    job = json.dumps({"expression": expression, "variables": variables}, default=str)
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD],
            input=job,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ExpressionResult(error=f"timed out after {timeout_s:g} s (killed)")
    except OSError as error:
        return ExpressionResult(error=f"could not start Python: {error.strerror or error}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return ExpressionResult(error=f"the expression's process failed: {tail[0]}")
    answer = json.loads(lines[-1])
    return ExpressionResult(value=answer.get("value"), error=answer.get("error"))
