"""Entry point of the ``traceforge`` command."""

from __future__ import annotations

import click

from traceforge_cli.commands.demo import demo
from traceforge_cli.commands.init import init
from traceforge_cli.commands.redact import redact
from traceforge_cli.commands.start import start
from traceforge_cli.commands.test import test
from traceforge_cli.commands.trace import trace
from traceforge_cli.commands.ui import ui
from traceforge_cli.context import home_option


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@home_option
@click.version_option(package_name="traceforge-cli", prog_name="traceforge")
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
      traceforge test create-from-trace ID   turn a call into a YAML regression test
      traceforge test run          run the tests in .ai-tests/tests (--replay: offline)
      traceforge ui                terminal UI: live list, detail, replay, diff, dashboard
      traceforge init              set up .ai-tests/ and keep traces out of git
      traceforge redact check      audit traces (or any files) for unredacted secrets
    """


cli.add_command(start)
cli.add_command(demo)
cli.add_command(trace)
cli.add_command(init)
cli.add_command(redact)
cli.add_command(test)
cli.add_command(ui)

if __name__ == "__main__":  # pragma: no cover
    cli()
