"""``traceforge trace search TEXT``: full-text search over the recorded calls."""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.filter_options import build_filter, filter_options
from traceforge_cli.output import Cell, Column, format_option, print_rows, resolve_format
from traceforge_cli.render import LEVEL_STYLE
from traceforge_shared.store import SearchHit, SearchQueryError
from traceforge_shared.views.status import status_view

#: Columns of the table and TSV output.
COLUMNS = (
    Column("ID", "id", 0, min_width=8),
    Column("Time (UTC)", "timestamp", 4, min_width=10),
    Column("Model", "model", 3, min_width=8),
    Column("Status", "status", 2, min_width=6),
    Column("Match", "snippet", 1, min_width=30),
)


class SearchResult(msgspec.Struct, kw_only=True):
    """One line of ``trace search --format json`` (an array of these, best match first).

    Attributes:
        id, timestamp, model, provider, status, status_code: the trace's summary fields.
        snippet: the best-matching piece of its text, matches between ``[`` and ``]``.
        score: bm25 rank (lower is better; 0 when only one- or two-character words matched).
    """

    id: str
    timestamp: str
    model: str
    provider: str
    status: str
    status_code: int
    snippet: str
    score: float


def _result(hit: SearchHit) -> SearchResult:
    s = hit.summary
    return SearchResult(
        id=s.id,
        timestamp=s.timestamp,
        model=s.model,
        provider=s.provider,
        status=s.status,
        status_code=s.status_code,
        snippet=" ".join(hit.snippet.split()),
        score=hit.score,
    )


@click.command("search")
@home_option
@click.argument("text", nargs=-1, required=True)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Show at most this many matches, best first.",
)
@filter_options
@format_option()
def search(
    text: tuple[str, ...], limit: int, output_format: str | None, as_json: bool, **filters: Any
) -> None:
    """Search the text of recorded calls (messages, answers, errors, model, endpoint).

    Every word of TEXT must occur, in any case, anywhere inside a word ("rain" finds
    "Raining"); put a phrase in double quotes ('"rain in Paris"'). Other characters, such as
    * - : ( %, are searched literally. Results are ranked by relevance (bm25), each with the
    piece of text that matched. Only what is stored is searched: redacted secrets are not.
    """
    fmt = resolve_format(output_format, as_json)
    query = " ".join(text)
    try:
        hits = context.store().search(query, build_filter(filters), limit=limit)
    except SearchQueryError as exc:
        raise click.BadParameter(str(exc), param_hint="TEXT") from None
    if fmt == "json":
        out = msgspec.json.encode([_result(hit) for hit in hits])
        sys.stdout.write(msgspec.json.format(out, indent=2).decode() + "\n")
        return
    if not hits:
        click.echo(f"No traces match {query!r}.", err=fmt == "tsv")
        return
    rows: list[list[str | Cell]] = []
    for hit in hits:
        r = _result(hit)
        view = status_view(r.status, r.status_code)
        style = LEVEL_STYLE[view.level]
        rows.append(
            [
                r.id,
                r.timestamp[:19].replace("T", " "),
                r.model,
                Cell(view.label, style),
                r.snippet,
            ]
        )
    print_rows(fmt, COLUMNS, rows)
