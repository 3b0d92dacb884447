"""Field paths: where in a trace an assertion looks.

A field path reads the trace as plain JSON-like data (``msgspec.to_builtins(trace)``, the same
shape as the trace file, see :mod:`traceforge_shared.trace`). It is TraceForge's own small
syntax, not JSONPath:

- dotted names: ``metadata.usage.completion_tokens`` (names may hold letters, digits, ``_``
  and ``-``);
- ``[index]``, negative from the end: ``request.messages[-1].content``;
- ``["key"]`` or ``['key']`` for keys with other characters:
  ``metadata.response_headers["x-request-id"]``.

Examples: ``response.choices[0].message.content`` (the answer text, the default of every
assertion), ``response.choices[0].message.tool_calls[0].function.arguments``.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from traceforge_shared.trace import Trace

#: One step of a path after the first name: ``.name``, ``[index]`` or ``["key"]``.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"\[\s*(-?\d+)\s*\]")
_QUOTED = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]""")
_ESCAPE = re.compile(r"\\(.)")

#: Keys listed in a "not found" message before it says "...".
_MAX_KEYS_SHOWN = 12

Step = str | int


class FieldNotFoundError(KeyError):
    """A field path names something the trace does not have.

    ``str(error)`` is the whole message (not ``KeyError``'s quoted repr), e.g.
    ``response.choices[0].message.content: 'choices' not found in response (keys: error)``.

    Attributes:
        path: the full path asked for.
        missing: the part of the path that could not be read (``'choices'``, ``[3]``).
    """

    def __init__(self, path: str, missing: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.missing = missing
        self.message = message

    def __str__(self) -> str:
        return self.message


def parse_field(path: str) -> list[Step]:
    """Split a field path into its steps: names (``str``) and list indexes (``int``).

    ``parse_field("request.messages[-1].content")`` → ``["request", "messages", -1,
    "content"]``.

    Raises:
        ValueError: the path is empty or not valid field syntax (the message says where).
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError("invalid field path: empty (expected e.g. 'response.choices[0]')")
    steps: list[Step] = []
    first = _NAME.match(path)
    if first is None:
        raise _syntax(path, 0, "a name")
    steps.append(first.group())
    pos = first.end()
    while pos < len(path):
        char = path[pos]
        if char == ".":
            name = _NAME.match(path, pos + 1)
            if name is None:
                raise _syntax(path, pos + 1, "a name after '.'")
            steps.append(name.group())
            pos = name.end()
        elif char == "[":
            if index := _INDEX.match(path, pos):
                steps.append(int(index.group(1)))
                pos = index.end()
            elif quoted := _QUOTED.match(path, pos):
                raw = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
                steps.append(_ESCAPE.sub(r"\1", raw))
                pos = quoted.end()
            else:
                raise _syntax(path, pos, "an integer index or a quoted key in '[...]'")
        else:
            raise _syntax(path, pos, "'.' or '['")
    return steps


def _syntax(path: str, pos: int, expected: str) -> ValueError:
    found = repr(path[pos]) if pos < len(path) else "the end"
    return ValueError(
        f"invalid field path {path!r}: expected {expected} at position {pos}, found {found}"
    )


def format_steps(steps: list[Step]) -> str:
    """Write steps back as a path (``["a", 0, "b"]`` → ``a[0].b``)."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _NAME.fullmatch(step):
            out += f".{step}" if out else step
        else:
            out += "[" + '"' + step.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def json_type(value: Any) -> str:
    """The JSON type of a plain value, with its article (``an object``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


def resolve_data(data: Any, path: str) -> Any:
    """Read ``path`` from plain data (``dict``/``list`` nesting, as ``msgspec.to_builtins``
    gives). The first name is a key of ``data``, as ``response`` is of a trace.

    Raises:
        ValueError: ``path`` is not valid field syntax.
        FieldNotFoundError: a part of the path is missing (a key not present, an index out
            of range, or a step into a value of the wrong type).
    """
    steps = parse_field(path)
    value = data
    for i, step in enumerate(steps):
        where = format_steps(steps[:i]) or "the trace"
        if isinstance(step, int):
            if not isinstance(value, list):
                raise FieldNotFoundError(
                    path, f"[{step}]", f"{path}: {where} is {json_type(value)}, not an array"
                )
            if not -len(value) <= step < len(value):
                raise FieldNotFoundError(
                    path,
                    f"[{step}]",
                    f"{path}: index {step} out of range in {where} (length {len(value)})",
                )
            value = value[step]
            continue
        if not isinstance(value, dict):
            raise FieldNotFoundError(
                path,
                repr(step),
                f"{path}: cannot read {step!r} from {where}: it is {json_type(value)}",
            )
        if step not in value:
            raise FieldNotFoundError(
                path, repr(step), f"{path}: {step!r} not found in {where} ({_keys(value)})"
            )
        value = value[step]
    return value


def _keys(obj: dict[Any, Any]) -> str:
    if not obj:
        return "it has no keys"
    keys = [str(k) for k in obj]
    shown = ", ".join(keys[:_MAX_KEYS_SHOWN])
    if len(keys) > _MAX_KEYS_SHOWN:
        shown += f", ... ({len(keys)} keys)"
    return f"keys: {shown}"


def resolve_field(trace: Trace, path: str) -> Any:
    """Return the value at field ``path`` of ``trace``, as plain data (``str``, numbers,
    ``bool``, ``None``, ``dict``, ``list``).

    The trace is read as ``msgspec.to_builtins(trace)``: top-level names are the
    :class:`~traceforge_shared.trace.Trace` attributes (``request``, ``response``,
    ``metadata``, ``chunks``, ``model``, ...). Streamed traces carry the rebuilt
    ``chat.completion`` in ``response``, so the same paths work for them. A path the stored
    trace does not have is read from its chat completion view
    (:func:`traceforge_shared.chat_view.chat_trace`), so ``response.choices[0].message.content``
    and ``request.messages[0].content`` work on Responses API traces too, while their own
    paths (``response.output[0]...``, ``request.input``) still read what was stored.

    Raises:
        ValueError: ``path`` is not valid field syntax.
        FieldNotFoundError: the trace has nothing at ``path``; the message names the path and
            the first missing part, e.g. ``response.choices[0].message.content: 'choices'
            not found in response (keys: error)``.
    """
    return resolve_trace_data(trace, msgspec.to_builtins(trace), path)


def resolve_trace_data(trace: Trace, data: Any, path: str) -> Any:
    """Read ``path`` from ``data`` (``msgspec.to_builtins(trace)``), else, when ``trace``
    has a chat completion view that differs from it (a Responses API trace), from that view.

    Raises:
        ValueError: ``path`` is not valid field syntax.
        FieldNotFoundError: neither has ``path``; the message is the stored trace's.
    """
    try:
        return resolve_data(data, path)
    except FieldNotFoundError as missing:
        from traceforge_shared.chat_view import chat_trace

        view = chat_trace(trace)
        if view is trace:
            raise
        try:
            return resolve_data(msgspec.to_builtins(view), path)
        except FieldNotFoundError:
            raise missing from None
