"""How every listing is printed: a table on a terminal, tab-separated rows in a pipe, or JSON.

``--format table|tsv|json`` (:func:`format_option`) is on every listing; without it the choice
is :func:`resolve_format`'s: ``table`` when stdout is a terminal, else ``tsv``, so
``traceforge trace list | grep gemini-2.5-flash`` sees every value whole. The old ``--json``
flags stay as aliases of ``--format json``.

- **tsv** (:func:`write_tsv`): a header line, then one line per row, cells separated by a tab;
  no value is ever wrapped, cut or padded (a tab, newline or carriage return inside a value is
  written as a space, so a row stays one line). It imports no rich module at all.
- **table** (:func:`print_table`): a rich table whose columns never wrap: when the terminal is
  too narrow, the least important columns (highest :attr:`Column.priority`) shrink first, down
  to their :attr:`Column.min_width`, and a cut value ends with ``…``; columns that still do not
  fit are left out, least important first.

:func:`slow_notice` prints a progress message on stderr for a listing or scan that takes over
a second (a spinner on a terminal, one line otherwise), and nothing for a fast one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TextIO, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status
    from rich.table import Table

#: The output formats of a listing.
Format = Literal["table", "tsv", "json"]
FORMATS: tuple[Format, ...] = ("table", "tsv", "json")

#: Seconds a listing or scan runs before :func:`slow_notice` says it is working.
SLOW_AFTER_S = 1.0

#: Spaces between two table columns.
COLUMN_GAP = 1

_F = TypeVar("_F", bound=Callable[..., Any])
_TSV_UNSAFE = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


class Cell(NamedTuple):
    """A table cell with a rich style (``"red"``, ``"bold green"``); the style is dropped in
    TSV."""

    text: str
    style: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    Attributes:
        header: the table header (``"Model"``); :attr:`key` is the TSV header.
        key: the TSV header (``"model"``): lower case, no spaces.
        priority: 0 is kept whole longest; higher numbers shrink and disappear first.
        min_width: fewest characters (terminal cells) the column shrinks to, ``…`` included.
        justify: ``"left"`` or ``"right"`` (numbers).
    """

    header: str
    key: str
    priority: int
    min_width: int = 4
    justify: Literal["left", "right"] = "left"


def format_option(*, json_help: str = "Same as --format json.") -> Callable[[_F], _F]:
    """Add ``--format table|tsv|json`` (parameter ``output_format``, ``None`` when not given)
    and ``--json`` (parameter ``as_json``, an alias of ``--format json``) to a command; pass
    both to :func:`resolve_format`."""

    def decorate(func: _F) -> _F:
        func = click.option("--json", "as_json", is_flag=True, help=json_help)(func)
        return click.option(
            "--format",
            "output_format",
            type=click.Choice(FORMATS),
            default=None,
            help="table (aligned, for a terminal), tsv (a header line, then tab-separated "
            "rows; the default when stdout is not a terminal) or json.",
        )(func)

    return decorate


def resolve_format(output_format: str | None, as_json: bool = False) -> Format:
    """The format to print: ``json`` for ``--json``, else ``--format``, else ``table`` when
    stdout is a terminal and ``tsv`` when it is not.

    Raises:
        click.UsageError: ``--json`` with another ``--format``.
    """
    if as_json:
        if output_format not in (None, "json"):
            raise click.UsageError(f"--json and --format {output_format} exclude each other")
        return "json"
    if output_format in FORMATS:
        return output_format
    return "table" if sys.stdout.isatty() else "tsv"


def _plain(cell: str | Cell) -> str:
    return cell.text if isinstance(cell, Cell) else cell


def write_tsv(
    columns: Sequence[Column],
    rows: Iterable[Sequence[str | Cell]],
    out: TextIO | None = None,
) -> None:
    """Write ``rows`` as tab-separated values to ``out`` (default: stdout): the columns'
    :attr:`Column.key` on the first line, then one line per row, values whole."""
    stream = out or sys.stdout
    stream.write("\t".join(column.key for column in columns) + "\n")
    for row in rows:
        stream.write("\t".join(_plain(cell).translate(_TSV_UNSAFE) for cell in row) + "\n")


def fit_widths(natural: Sequence[int], columns: Sequence[Column], width: int) -> list[int]:
    """The width of each column so the table fits in ``width`` terminal cells: the shared
    rule (:func:`traceforge_shared.views.columns.fit_widths`, which the TUI's list uses too)
    with :data:`COLUMN_GAP` between columns.

    ``natural`` is each column's widest cell (header included). Columns keep their natural
    width while everything fits; otherwise the least important (highest priority number)
    shrink first, each down to its ``min_width``; if even that is too wide, the least
    important columns get width 0 (left out).
    """
    from traceforge_shared.views.columns import fit_widths as shared_fit_widths

    return shared_fit_widths(natural, columns, width, gap=COLUMN_GAP)


def build_table(
    columns: Sequence[Column], rows: Sequence[Sequence[str | Cell]], width: int
) -> Table:
    """A rich table of ``rows`` at most ``width`` terminal cells wide that never wraps a value:
    columns shrink by priority (:func:`fit_widths`) and cut values end with ``…``."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    natural = [
        max([cell_len(column.header), *(cell_len(_plain(row[i])) for row in rows)])
        for i, column in enumerate(columns)
    ]
    widths = fit_widths(natural, columns, width)
    shown = [i for i, w in enumerate(widths) if w > 0]
    table = Table(
        box=None,
        padding=(0, COLUMN_GAP, 0, 0),
        pad_edge=False,
        header_style="bold underline",
    )
    for i in shown:
        table.add_column(
            columns[i].header,
            width=widths[i],
            no_wrap=True,
            overflow="ellipsis",
            justify=columns[i].justify,
        )
    for row in rows:
        table.add_row(
            *(
                Text(cell.text, style=cell.style) if isinstance(cell, Cell) else Text(cell)
                for cell in (row[i] for i in shown)
            )
        )
    return table


def print_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Cell]],
    console: Console | None = None,
) -> None:
    """Print ``rows`` on ``console`` (default: stdout) as :func:`build_table` lays them out for
    the console's width."""
    from rich.console import Console

    console = console or Console(emoji=False, highlight=False)
    console.print(build_table(columns, rows, console.width))


def print_rows(
    fmt: Format,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Cell]],
    console: Console | None = None,
) -> None:
    """Print ``rows`` as ``fmt`` says: ``tsv`` (:func:`write_tsv`) or ``table``
    (:func:`print_table`). JSON is each command's own shape, printed by the command.

    Raises:
        ValueError: ``fmt`` is ``json``.
    """
    if fmt == "json":
        raise ValueError("print_rows prints tables and TSV; the command prints its JSON")
    if fmt == "tsv":
        write_tsv(columns, rows)
    else:
        print_table(columns, rows, console)


class _Notice:
    """The progress message of :func:`slow_notice`: started by a timer, stopped on exit."""

    def __init__(self, message: str, stream: TextIO) -> None:
        self.message = message
        self.stream = stream
        self.lock = threading.Lock()
        self.done = False
        self.status: Status | None = None

    def start(self) -> None:
        with self.lock:
            if self.done:
                return
            if self.stream.isatty():
                from rich.console import Console

                self.status = Console(file=self.stream).status(self.message)
                self.status.start()
            else:
                self.stream.write(f"traceforge: {self.message}\n")
                self.stream.flush()

    def stop(self) -> None:
        with self.lock:
            self.done = True
            if self.status is not None:
                self.status.stop()


@contextmanager
def slow_notice(message: str, *, after_s: float | None = None) -> Iterator[None]:
    """Say ``message`` on stderr if the block runs longer than ``after_s`` seconds (default
    :data:`SLOW_AFTER_S`): a spinner on a terminal (removed when the block ends), else one
    line ``traceforge: <message>``. A block that ends sooner prints nothing; ``after_s`` 0
    prints at once."""
    delay = SLOW_AFTER_S if after_s is None else after_s
    notice = _Notice(message, sys.stderr)
    if delay <= 0:
        notice.start()
        timer = None
    else:
        timer = threading.Timer(delay, notice.start)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
        notice.stop()
