"""Entry point of the ``traceforge`` command.

The commands are loaded lazily (click's documented ``LazyGroup`` pattern): the group knows
each command's module and one-line help, and imports ``traceforge_cli.commands.<name>`` only
when that command runs. So ``traceforge --help``, ``--version`` and ``trace list`` import no
provider SDK, no TUI, no proxy server and no web API.

Every command runs inside :func:`traceforge_cli.errors.guarded`: a failure is one line on
stderr, ``traceforge: <what> (<path>)``, with exit status 1 (2 for a command line click
rejects, in click's own format), never a traceback unless ``TRACEFORGE_DEBUG=1``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from traceforge_cli import __version__
from traceforge_cli.context import home_option
from traceforge_cli.errors import guarded


class LazyCommand:
    """Where a lazily loaded command lives and what ``--help`` says of it.

    Attributes:
        module: dotted module path (``"traceforge_cli.commands.demo"``).
        attribute: the click command object's name in that module.
        short_help: the line ``traceforge --help`` lists; a test checks it matches the
            command's own docstring.
    """

    __slots__ = ("attribute", "module", "short_help")

    def __init__(self, module: str, attribute: str, short_help: str) -> None:
        self.module = module
        self.attribute = attribute
        self.short_help = short_help

    def load(self) -> click.Command:
        """Import the module and return the command.

        Raises:
            TypeError: the attribute is not a click command.
        """
        command = getattr(importlib.import_module(self.module), self.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return command


class LazyGroup(click.Group):
    """A ``click.Group`` whose subcommands are imported on first use.

    ``lazy`` maps a command name to its :class:`LazyCommand`. Listing the commands in
    ``--help`` uses the stored short help and imports nothing.
    """

    def __init__(
        self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Eagerly added and lazy command names, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module if it is lazy and not loaded yet."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section of ``--help``, from the stored short help of lazy
        commands (none is imported) and the real one of loaded commands."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                stub = click.Command(name, help=self.lazy[name].short_help)
                rows.append((name, stub.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class TraceforgeGroup(LazyGroup):
    """The ``traceforge`` group: a :class:`LazyGroup` whose commands run inside
    :func:`traceforge_cli.errors.guarded`, so a failure is one line on stderr (exit 1, or 2
    for bad input), never a traceback (unless ``$TRACEFORGE_DEBUG`` is set)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the chosen command; errors as :func:`~traceforge_cli.errors.guarded` says.

        Raises:
            click.ClickException: every failure (click prints it and exits 1 or 2).
        """
        with guarded(lambda: _home(ctx)):
            return super().invoke(ctx)


def _home(ctx: click.Context) -> Path:
    from traceforge_shared.config import resolve_home

    return resolve_home(ctx.meta.get("traceforge.home"))


def _command(name: str, short_help: str) -> LazyCommand:
    return LazyCommand(f"traceforge_cli.commands.{name}", name, short_help)


#: Every ``traceforge`` command: its module under ``traceforge_cli.commands`` and the first
#: paragraph of its docstring (``test_lazy_imports`` checks they agree).
COMMANDS: dict[str, LazyCommand] = {
    "diff": LazyCommand(  # `trace diff`, also at the top level
        "traceforge_cli.commands.trace_diff",
        "diff",
        "Compare two traces: request, answer and metadata differences (exit 1 if any).",
    ),
    "budget": _command(
        "budget", "Spending limits per day or month (budgets: in config.yaml) and what is left."
    ),
    "cassette": _command(
        "cassette",
        "Cassettes of recorded calls: list, show, prune unused recordings, diff re-recordings.",
    ),
    "config": _command("config", "Check the configuration file (config.yaml)."),
    "demo": _command(
        "demo",
        "Run the proxy on the built-in mock upstream and drive it with the official OpenAI SDK.",
    ),
    "export": _command(
        "export", "Send recorded traces on to other tools (OpenTelemetry: export otlp)."
    ),
    "init": _command(
        "init",
        "Create the TraceForge home (.ai-tests/) with a commented config.yaml and a tests/ "
        "folder, and add its traces and results to the project's .gitignore.",
    ),
    "lsp": _command(
        "lsp",
        "Language server for test files (diagnostics, completion, hover, CodeLens, run) over "
        "stdio.",
    ),
    "redact": _command(
        "redact", "Check traces and other files for secrets and PII that were not redacted."
    ),
    "run": _command(
        "run",
        "Agent runs: trees of spans (agent steps, tool calls, LLM calls) under one trace id.",
    ),
    "session": _command(
        "session", "Sessions: the runs of one conversation or user, with their totals."
    ),
    "start": _command("start", "Run the capture proxy until Ctrl-C."),
    "test": _command(
        "test", "Regression tests: turn a trace into a YAML test, run tests in parallel."
    ),
    "trace": _command("trace", "List and inspect recorded calls (traces)."),
    "ui": _command(
        "ui",
        "Browse recorded traces: a live list, each call's conversation, JSON and chunk "
        "timeline, stream replay, save as test, diff, and the playground (edit a request and "
        "send it again).",
    ),
}


@click.group(
    cls=TraceforgeGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@home_option
@click.version_option(__version__, prog_name="traceforge")  # no importlib.metadata: ~40 ms
def cli() -> None:
    """TraceForge: see, test and compare what your app says to an LLM.

    Point your OpenAI SDK at the proxy (base_url=http://127.0.0.1:8787/v1) and every call is
    recorded as a trace under .ai-tests/ (or $TRACEFORGE_HOME, or --home).

    \b
    Quick start:
      traceforge demo              run the proxy on the built-in mock upstream and drive it
      traceforge start             run the proxy for your own app (Ctrl-C to stop)
      traceforge trace list        list recorded calls
      traceforge trace show ID     show one call: request, response, chunk timeline
      traceforge run list          agent runs (span trees); run show ID draws one
      traceforge test create-from-trace ID   turn a call into a YAML regression test
      traceforge test run          run the tests in .ai-tests/tests (--replay: offline)
      traceforge ui                terminal UI: live list, detail, replay, diff, dashboard
      traceforge init              set up .ai-tests/ and keep traces out of git
      traceforge redact check      audit traces (or any files) for unredacted secrets
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
