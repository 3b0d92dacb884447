"""``traceforge ui``: browse traces in the terminal UI, or serve it to a browser (``--web``)."""

from __future__ import annotations

import shlex
import sys

import click

from traceforge_cli import context
from traceforge_cli.context import home_option

#: The address ``--web`` listens on: this machine only (traces hold prompts and answers).
WEB_HOST = "127.0.0.1"


def web_command(home: str) -> str:
    """The shell command textual-serve runs for each browser session: this same UI, in a
    new process, on ``home``."""
    return shlex.join([sys.executable, "-m", "traceforge_cli.main", "--home", home, "ui"])


@click.command()
@home_option
@click.option(
    "--web",
    is_flag=True,
    help=f"Serve the UI to a browser (textual-serve) on http://{WEB_HOST}:PORT instead.",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port of --web."
)
def ui(web: bool, port: int) -> None:
    """Browse recorded traces: a live list, each call's conversation, JSON and chunk timeline,
    stream replay, save as test, diff.

    \b
    Keys: Enter open, / filter, s sort, space mark, d diff two marked,
    r replay a stream, n save as test, x delete, ctrl+t light/dark, q quit.
    """
    home = context.home()
    if web:
        from textual_serve.server import Server

        click.echo(f"Serving the TraceForge UI on http://{WEB_HOST}:{port} (Ctrl-C to stop)")
        server = Server(
            web_command(str(home.resolve())), host=WEB_HOST, port=port, title="TraceForge"
        )
        server.serve()
        return
    from traceforge_shared.store import TraceStore
    from traceforge_tui import make_app

    make_app(TraceStore(home)).run()
