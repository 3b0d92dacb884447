"""Column conditions of a :class:`~traceforge_shared.store.TraceFilter` beyond its exact-match
fields: substrings, id prefixes, comparisons of latency, cost and tokens, sets of statuses,
tags. Each renders to a parameterised SQL clause over the index's ``traces`` table.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["CONDITION_COLUMNS", "Condition", "Op", "condition_sql"]

#: What a condition does with its column and value:
#:
#: - ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``: compare (a ``NULL`` cost or time to first
#:   token never matches a comparison);
#: - ``contains``: the value occurs in the column, ASCII case ignored;
#: - ``glob``: the column matches a pattern where ``*`` is any run of characters, case ignored;
#: - ``prefix``: the column starts with the value (ids);
#: - ``in``: the column is one of the values (a tuple);
#: - ``has``: the comma-joined ``tags`` column holds the value as one whole tag;
#: - ``is_not``: the column is not the value (``NULL`` counts as "not").
Op = Literal["=", "!=", "<", "<=", ">", ">=", "contains", "glob", "prefix", "in", "has", "is_not"]

#: The index columns a condition may read.
CONDITION_COLUMNS = frozenset(
    {
        "id",
        "model",
        "provider",
        "endpoint",
        "status",
        "route",
        "session_id",
        "tags",
        "source",
        "latency_ms",
        "first_chunk_latency_ms",
        "cost_usd",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
    }
)

_COMPARE = frozenset({"=", "!=", "<", "<=", ">", ">="})


class Condition(NamedTuple):
    """One condition on an index column.

    Attributes:
        column: one of :data:`CONDITION_COLUMNS`.
        op: see :data:`Op`.
        value: a string or number; a tuple of them for ``in``.
    """

    column: str
    op: Op
    value: object


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def condition_sql(condition: Condition) -> tuple[str, list[object]]:
    """The SQL clause and parameters of ``condition``.

    Raises:
        ValueError: an unknown column or operator, or an ``in`` without values.
    """
    column, op, value = condition
    if column not in CONDITION_COLUMNS:
        raise ValueError(f"cannot filter on column {column!r}")
    if op in _COMPARE:
        return f"{column} {op} ?", [value]
    if op == "contains":
        return f"{column} LIKE ? ESCAPE '\\'", [f"%{_like_escape(str(value))}%"]
    if op == "glob":
        pattern = "%".join(_like_escape(part) for part in str(value).split("*"))
        return f"{column} LIKE ? ESCAPE '\\'", [pattern]
    if op == "prefix":
        return f"{column} LIKE ? ESCAPE '\\'", [f"{_like_escape(str(value))}%"]
    if op == "in":
        values = list(value) if isinstance(value, tuple) else []
        if not values:
            raise ValueError(f"{column}: 'in' needs at least one value")
        return f"{column} IN ({', '.join('?' for _ in values)})", values
    if op == "has":
        return f"instr(',' || {column} || ',', ?) > 0", [f",{value},"]
    if op == "is_not":
        return f"{column} IS NOT ?", [value]
    raise ValueError(f"unknown condition operator {op!r}")
