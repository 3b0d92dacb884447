"""``traceforge trace``: list and show recorded calls."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.filter_options import build_filter
from traceforge_cli.main import LazyCommand, LazyGroup
from traceforge_cli.output import format_option, print_rows, resolve_format, slow_notice
from traceforge_shared.store import StoreError, TraceStore
from traceforge_shared.trace import TRACE_STATUSES, Trace
from traceforge_shared.views.times import TimeParseError, parse_since

_F = TypeVar("_F", bound=Callable[..., Any])


def since_option(text: str) -> datetime:
    """Parse ``--since`` with :func:`traceforge_shared.views.times.parse_since`: an age
    (``30m``, ``2h``, ``7d``, ``1w``) or an ISO 8601 date or time, UTC when it has no offset
    (as in the web API and the TUI filter).

    Raises:
        click.BadParameter: neither form.
    """
    try:
        return parse_since(text)
    except TimeParseError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def _count_option(*decls: str, default: int, minimum: int, help: str) -> Callable[[_F], _F]:
    """A ``--limit``-like option: an integer from ``minimum``, ``default`` shown in ``--help``."""
    return click.option(
        *decls, type=click.IntRange(minimum), default=default, show_default=True, help=help
    )


def _write_json(data: bytes) -> None:
    sys.stdout.write(msgspec.json.format(data, indent=2).decode() + "\n")


def _warn_store_health(store: TraceStore) -> None:
    """One line each on stderr: new traces cannot be saved in ``store`` (read-only, full),
    or entries of ``traces/`` are skipped because they are not traces."""
    problem = store.check_writable()
    if problem is not None:
        click.echo(f"warning: new traces cannot be saved in {store.home}: {problem}", err=True)
    skipped = store.problems()
    if skipped:
        names = ", ".join(p.path.name for p in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        click.echo(
            f"warning: skipped {len(skipped)} {'entry' if len(skipped) == 1 else 'entries'} "
            f"of {store.traces_dir} (not readable traces): {names}",
            err=True,
        )


#: ``trace`` subcommands in their own modules, imported when they run (``diff`` loads
#: DeepDiff, ``rerun`` the HTTP client): ``trace list`` stays light.
TRACE_COMMANDS: dict[str, LazyCommand] = {
    "diff": LazyCommand(
        "traceforge_cli.commands.trace_diff",
        "diff",
        "Compare two traces: request, answer and metadata differences (exit 1 if any).",
    ),
    "rerun": LazyCommand(
        "traceforge_cli.commands.trace_rerun",
        "rerun",
        "Send a recorded request again (optionally edited or to another model) and diff the "
        "answers.",
    ),
    "search": LazyCommand(
        "traceforge_cli.commands.trace_search",
        "search",
        "Search the text of recorded calls (messages, answers, errors, model, endpoint).",
    ),
    "export": LazyCommand(
        "traceforge_cli.commands.trace_export",
        "export",
        "Export recorded calls as JSON, JSON Lines or CSV, newest first.",
    ),
    "delete": LazyCommand(
        "traceforge_cli.commands.trace_delete",
        "delete",
        "Delete recorded calls: by id (or unique prefix), by the filters of `trace list`, or "
        "by age (--older-than 30d).",
    ),
}


@click.group(cls=LazyGroup, lazy=TRACE_COMMANDS)
def trace() -> None:
    """List and inspect recorded calls (traces)."""


@trace.command("list")
@home_option
@_count_option(
    "-n", "--limit", default=20, minimum=1, help="Show at most this many traces, newest first."
)
@click.option("--model", help="Only this model (exact name).")
@click.option("--provider", help="Only this provider (openai, ...).")
@click.option("--status", type=click.Choice(TRACE_STATUSES), help="Only this outcome.")
@click.option(
    "--stream/--no-stream",
    "streaming",
    default=None,
    help="Only streamed / only non-streamed calls.",
)
@click.option(
    "--since",
    metavar="AGE|DATE",
    help="Only calls since an age (30m, 2h, 7d) or date (2026-11-23).",
)
@click.option(
    "-q",
    "--query",
    metavar="TEXT",
    help='Only calls whose text holds every word ("quoted phrase" for a phrase); see '
    "`trace search` for ranked matches.",
)
@click.option(
    "--filter",
    "where",
    metavar="EXPR",
    help="A filter as in the TUI: 'model:~gemini status:error latency:>500 since:2h words' "
    "(docs/filters.md).",
)
@format_option(json_help="Print JSON (an array of summaries); same as --format json.")
def list_traces(
    limit: int,
    model: str | None,
    provider: str | None,
    status: str | None,
    streaming: bool | None,
    since: str | None,
    query: str | None,
    where: str | None,
    output_format: str | None,
    as_json: bool,
) -> None:
    """List recorded calls, newest first.

    On a terminal: a table whose columns shrink (values cut with …) to fit. In a pipe (or
    --format tsv): a header line, then one tab-separated line per call with whole values
    (full id, ISO 8601 UTC time, tokens, latency in ms, status).
    """
    fmt = resolve_format(output_format, as_json)
    filters = build_filter(
        {
            "model": model,
            "provider": provider,
            "status": status,
            "streaming": streaming,
            "since": since,
            "query": query,
            "where": where,
        }
    )
    with slow_notice("listing traces…"):
        store = context.store()
        summaries = store.list(filters, limit=limit)
        total = store.count(filters) if len(summaries) == limit else len(summaries)
    _warn_store_health(store)
    if fmt == "json":
        _write_json(msgspec.json.encode(summaries))
        return
    if not summaries:
        # On stderr in a pipe, so `trace list | wc -l` counts only the header.
        click.echo(
            f"No traces in {store.traces_dir}"
            + (
                " match these filters."
                if any(
                    v is not None for v in (model, provider, status, streaming, since, query, where)
                )
                else ". Point your SDK at `traceforge start`, or run `traceforge demo`."
            ),
            err=fmt == "tsv",
        )
        if fmt == "table":
            return
    from traceforge_cli import listing

    if fmt == "tsv":
        print_rows(fmt, listing.TRACE_TSV_COLUMNS, listing.trace_tsv_rows(summaries))
    else:
        print_rows(fmt, listing.TRACE_TABLE_COLUMNS, listing.trace_table_rows(summaries))
    if total > len(summaries):
        click.echo(f"{len(summaries)} of {total} shown; use --limit for more", err=fmt == "tsv")


@trace.command("show")
@home_option
@click.argument("trace_id", metavar="ID")
@_count_option(
    "--chunks", "chunk_limit", default=40, minimum=0, help="Chunks shown in the timeline (0: all)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole trace as JSON.")
@click.option(
    "--curl", "snippet", flag_value="curl", help="Print a curl command repeating the call."
)
@click.option(
    "--python",
    "snippet",
    flag_value="python",
    help="Print a Python script repeating the call with the provider's SDK.",
)
@click.option(
    "--direct",
    is_flag=True,
    help="With --curl/--python: call the provider's API, not the proxy.",
)
def show_trace(
    trace_id: str, chunk_limit: int, as_json: bool, snippet: str | None, direct: bool
) -> None:
    """Show one call: request, response, metadata and, for streams, the chunk timeline.

    ID is a trace id or any unique prefix of one (as printed by `trace list`). --curl and
    --python print a snippet repeating the call through the proxy (proxy.host and
    proxy.port of config.yaml) or, with --direct, to the provider; the key is read from the
    provider's environment variable ($OPENAI_API_KEY, ...), never written out.
    """
    if direct and snippet is None:
        raise click.UsageError("--direct goes with --curl or --python")
    try:
        found = context.store().get(trace_id)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if snippet is not None:
        sys.stdout.write(_snippet(found, snippet, direct))
        return
    if as_json:
        _write_json(msgspec.json.encode(found))
        return
    from rich.console import Console

    from traceforge_cli.render import trace_detail

    Console().print(trace_detail(found, chunk_limit=chunk_limit or None))


def proxy_url() -> str:
    """The proxy's base URL from config.yaml (``http://127.0.0.1:8787`` by default)."""
    proxy = context.config().proxy
    host = "127.0.0.1" if proxy.host in ("0.0.0.0", "") else proxy.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{proxy.port}"


def _snippet(found: Trace, kind: str, direct: bool) -> str:
    from traceforge_cli.snippets import SnippetError, call_for, curl_snippet, python_snippet

    upstream = context.config().upstreams.get(found.provider)
    try:
        call = call_for(
            found,
            proxy_url=proxy_url(),
            direct=direct,
            base_url=upstream.base_url if upstream is not None else None,
        )
        return curl_snippet(call) if kind == "curl" else python_snippet(call)
    except SnippetError as exc:
        raise click.ClickException(str(exc)) from exc
