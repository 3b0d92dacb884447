"""``with traceforge.span("plan", kind="agent"):`` and ``@traceforge.trace``: the
application's own spans (an agent's turn, a tool call, a retrieval), parents of the LLM
calls made inside them.

Each span is an OpenTelemetry span (https://opentelemetry.io/docs/specs/otel/trace/api/) of
the tracer :mod:`traceforge.tracing_setup` chose, made the current span for its block, so
spans started inside are its children, in threads given the context and across ``await``.
Attributes written (:mod:`traceforge.tracing_names`):

- ``gen_ai.operation.name`` where the GenAI conventions name the kind's operation: ``agent``
  → ``invoke_agent``, ``tool`` → ``execute_tool``, ``retrieval`` → ``retrieval``, ``llm`` →
  ``chat``, ``embedding`` → ``embeddings``; ``chain`` spans get
  ``openinference.span.kind: CHAIN``; every span ``traceforge.span.kind``;
- on agent and tool spans ``gen_ai.agent.name`` / ``gen_ai.tool.name`` = the name given, and
  the span is named as the conventions say: ``invoke_agent plan``, ``execute_tool
  get_weather``; other kinds keep the name given;
- ``session.id`` (and ``traceforge.tags``, ``traceforge.meta.<key>``) inside
  ``traceforge.session``;
- the attributes passed. Values that are not OpenTelemetry attribute values (str, bool, int,
  float or a list of one of them) are stored as JSON text.

An exception leaving the block is recorded on the span (an ``exception`` event), the span's
status becomes ``ERROR`` with the exception's text, and the exception is re-raised.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, cast, overload

from opentelemetry import trace as otel_trace
from opentelemetry.util.types import AttributeValue

from traceforge.tracing_names import (
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_NAME,
    KINDS,
    OPENINFERENCE_SPAN_KIND,
    OPERATION_FOR_KIND,
    SESSION_ID,
    TRACEFORGE_META_PREFIX,
    TRACEFORGE_SPAN_KIND,
    TRACEFORGE_TAGS,
    Kind,
)
from traceforge.tracing_session import current_session
from traceforge.tracing_setup import get_tracer

__all__ = ["span", "span_attributes", "trace"]

P = ParamSpec("P")
R = TypeVar("R")

_NAME_ATTRIBUTE = {"agent": GEN_AI_AGENT_NAME, "tool": GEN_AI_TOOL_NAME}


def _attribute_value(value: object) -> AttributeValue:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and value:
        first = type(value[0])
        if first in (str, bool, int, float) and all(type(item) is first for item in value):
            return cast(AttributeValue, list(value))
    return json.dumps(value, default=str, ensure_ascii=False)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown span kind {kind!r}; use one of: {', '.join(KINDS)}")


def span_attributes(
    name: str, kind: str, attributes: Mapping[str, object] | None = None
) -> tuple[str, dict[str, AttributeValue]]:
    """The OpenTelemetry span name and start attributes of a ``kind`` span called ``name``
    (see the module), session attributes included.

    Raises:
        ValueError: ``kind`` is not one of :data:`~traceforge.tracing_names.KINDS`, or
            ``name`` is empty.
    """
    _check_kind(kind)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a span needs a non-empty name, got {name!r}")
    attrs: dict[str, AttributeValue] = {TRACEFORGE_SPAN_KIND: kind}
    operation = OPERATION_FOR_KIND.get(kind)
    span_name = name
    if operation is not None:
        attrs[GEN_AI_OPERATION_NAME] = operation
    if kind == "chain":
        attrs[OPENINFERENCE_SPAN_KIND] = "CHAIN"
    name_key = _NAME_ATTRIBUTE.get(kind)
    if name_key is not None and operation is not None:
        attrs[name_key] = name
        span_name = f"{operation} {name}"
    active = current_session()
    if active is not None:
        attrs[SESSION_ID] = active.id
        if active.tags:
            attrs[TRACEFORGE_TAGS] = list(active.tags)
        for meta_key, meta_value in active.metadata.items():
            attrs[TRACEFORGE_META_PREFIX + meta_key] = meta_value
    for key, value in (attributes or {}).items():
        attrs[str(key)] = _attribute_value(value)
    return span_name, attrs


@contextmanager
def span(
    name: str,
    *,
    kind: Kind = "custom",
    attributes: Mapping[str, object] | None = None,
    **more: object,
) -> Iterator[otel_trace.Span]:
    """A span around the block, current inside it (children nest under it).

    Args:
        name: what the span is (``"plan"``, ``"get_weather"``).
        kind: ``agent``, ``tool``, ``retrieval``, ``llm``, ``embedding``, ``mcp``,
            ``chain`` or ``custom`` (see the module for what each writes).
        attributes: span attributes, for names that are not Python identifiers
            (``{"gen_ai.tool.call.id": "call_1"}``).
        **more: span attributes by keyword (``city="Paris"``).

    Yields:
        The OpenTelemetry span (``set_attribute``, ``add_event``, ``set_status``).

    Raises:
        ValueError: an unknown ``kind`` or an empty ``name`` (before the block runs).
        BaseException: whatever the block raised, after recording it on the span.
    """
    span_name, attrs = span_attributes(name, kind, {**(attributes or {}), **more})
    with get_tracer().start_as_current_span(
        span_name, attributes=attrs, record_exception=True, set_status_on_exception=True
    ) as current:
        yield current


@overload
def trace(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def trace(
    *,
    name: str | None = None,
    kind: Kind = "custom",
    attributes: Mapping[str, object] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def trace(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    kind: Kind = "custom",
    attributes: Mapping[str, object] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace every call of a function: ``@traceforge.trace`` or
    ``@traceforge.trace(kind="tool", name="search")``; each call runs in a :func:`span`.

    Works on plain and ``async def`` functions (an async function's span lasts until its
    coroutine finishes).

    Args:
        func: the function (when used without parentheses).
        name: the span's name (default: the function's ``__qualname__``).
        kind: the span kind (see :func:`span`).
        attributes: attributes of every call's span.

    Raises:
        ValueError: an unknown ``kind``.
        TypeError: a generator or async generator function (the span would end before the
            iteration does: put ``with traceforge.span(...)`` around the loop instead).
    """
    _check_kind(kind)

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            raise TypeError(
                f"@traceforge.trace cannot wrap the generator function "
                f"{function.__qualname__}: wrap the loop that consumes it in "
                "`with traceforge.span(...)` instead"
            )
        span_name = name or function.__qualname__
        if inspect.iscoroutinefunction(function):
            coroutine_function = function

            @functools.wraps(function)
            async def traced_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with span(span_name, kind=kind, attributes=attributes):
                    return await coroutine_function(*args, **kwargs)

            return cast(Callable[P, R], traced_async)

        @functools.wraps(function)
        def traced(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(span_name, kind=kind, attributes=attributes):
                return function(*args, **kwargs)

        return traced

    if func is not None:
        return decorate(func)
    return decorate
