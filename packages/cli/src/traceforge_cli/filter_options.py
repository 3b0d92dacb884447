"""The trace filter options of ``trace search``, ``trace export`` and ``trace delete``: the
columns of ``trace list`` (``--model``, ``--provider``, ``--status``, ``--stream``,
``--since``) plus ``--until``, ``-q`` text and ``--filter`` in the shared filter grammar
(:mod:`traceforge_shared.views.filters`: ``"model:gpt-4o status:error since:2h timeout"``).

Options given on their own override the same key of ``--filter``; text of both is ANDed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from traceforge_shared.store import SearchQueryError, TraceFilter
from traceforge_shared.trace import TRACE_STATUSES
from traceforge_shared.views.times import TimeParseError, parse_since

__all__ = ["FILTER_KEYS", "build_filter", "filter_options", "is_filtered"]

F = TypeVar("F", bound=Callable[..., Any])

#: The keyword arguments :func:`filter_options` adds to a command.
FILTER_KEYS = ("model", "provider", "status", "streaming", "since", "until", "query", "where")


def filter_options(func: F) -> F:
    """Add the filter options (see the module docstring) to a click command."""
    options = [
        click.option("--model", help="Only this model (exact name)."),
        click.option("--provider", help="Only this provider (openai, ...)."),
        click.option("--status", type=click.Choice(TRACE_STATUSES), help="Only this outcome."),
        click.option(
            "--stream/--no-stream",
            "streaming",
            default=None,
            help="Only streamed / only non-streamed calls.",
        ),
        click.option(
            "--since",
            metavar="AGE|DATE",
            help="Only calls since an age (30m, 2h, 7d) or date (2026-11-23, UTC).",
        ),
        click.option("--until", metavar="AGE|DATE", help="Only calls before an age or date."),
        click.option(
            "-q",
            "--query",
            metavar="TEXT",
            help='Only calls whose text holds every word ("quoted phrase" for a phrase).',
        ),
        click.option(
            "--filter",
            "where",
            metavar="EXPR",
            help="A filter as in the TUI and web UI: 'model:~gemini status:error latency:>500 "
            "since:2h words' (docs/filters.md).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def is_filtered(values: dict[str, Any]) -> bool:
    """Whether any filter option of :data:`FILTER_KEYS` is set in ``values``."""
    return any(values.get(key) not in (None, "") for key in FILTER_KEYS)


def _moment(option: str, text: str | None) -> Any:
    if text is None:
        return None
    try:
        return parse_since(text)
    except TimeParseError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def build_filter(values: dict[str, Any]) -> TraceFilter:
    """The :class:`TraceFilter` of the filter options in ``values`` (a command's keyword
    arguments; other keys are ignored).

    Raises:
        click.BadParameter: a time that is neither an age nor a date, a ``--filter`` the
            grammar rejects, or search text that is too long (exit status 2).
    """
    base = TraceFilter()
    where = values.get("where")
    if where:
        try:
            # Imported here: only `--filter` needs the grammar (~7 ms at start).
            from traceforge_shared.views.filters import FilterError, parse_filter

            base = parse_filter(where).to_filter()
        except (FilterError, SearchQueryError) as exc:
            raise click.BadParameter(str(exc), param_hint="--filter") from None
    texts = [t for t in (base.q, values.get("query")) if t]
    if values.get("status"):  # --status replaces the filter's status (one or a group)
        base = replace(base, conditions=tuple(c for c in base.conditions if c.column != "status"))
    try:
        return TraceFilter(
            model=values.get("model") or base.model,
            provider=values.get("provider") or base.provider,
            status=values.get("status") or base.status,
            streaming=base.streaming if values.get("streaming") is None else values["streaming"],
            since=_moment("--since", values.get("since")) or base.since,
            until=_moment("--until", values.get("until")) or base.until,
            q=" ".join(texts) or None,
            conditions=base.conditions,
        )
    except SearchQueryError as exc:
        raise click.BadParameter(str(exc), param_hint="-q") from None
