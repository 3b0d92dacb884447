"""``traceforge ui``: browse traces in the terminal UI, or serve it to a browser (``--web``,
:mod:`traceforge_cli.webui`)."""

from __future__ import annotations

import click

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_cli.webui import SCREENS, WEB_HOST, guarded_server, web_command, web_refusal

__all__ = ["WEB_HOST", "guarded_server", "ui", "web_command", "web_refusal"]


@click.command()
@home_option
@click.option(
    "--web",
    is_flag=True,
    help=f"Serve the UI to a browser (textual-serve) on http://{WEB_HOST}:PORT instead; "
    "/?trace=ID and /?screen=NAME link to a trace or screen.",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port of --web."
)
@click.option("--trace", "trace_id", metavar="ID", default=None, help="Start on this trace.")
@click.option("--screen", type=click.Choice(SCREENS), default=None, help="Start on this screen.")
def ui(web: bool, port: int, trace_id: str | None, screen: str | None) -> None:
    """Browse recorded traces: a live list, each call's conversation, JSON and chunk timeline,
    stream replay, save as test, diff, and the playground (edit a request and send it again).

    \b
    Keys: Enter open, / filter, s sort, space mark, d diff two marked,
    r replay a stream, n save as test, e edit and send again, M on another model,
    x delete, ctrl+t light/dark, q quit.
    """
    home = context.home()
    if web:
        from textual_serve.server import Server

        click.echo(
            f"Serving the TraceForge UI on http://{WEB_HOST}:{port} (Ctrl-C to stop); "
            f"link a trace as http://{WEB_HOST}:{port}/?trace=ID"
        )
        allowed = context.config().api.allowed_hosts
        try:
            server = guarded_server(Server, home.resolve(), port, allowed)
        except ValueError as exc:
            raise click.ClickException(f"api.allowed_hosts: {exc}") from exc
        server.serve()
        return
    from traceforge_shared.store import TraceStore
    from traceforge_tui import make_app
    from traceforge_tui.live import events_url

    # Calls in flight come from the proxy configured for this home, when one runs there.
    live_url = events_url(context.config().proxy)
    make_app(TraceStore(home), start_trace=trace_id, start_screen=screen, live_url=live_url).run()
