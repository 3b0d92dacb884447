"""``traceforge ui``: browse traces in the terminal UI, or serve it to a browser (``--web``)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import click

from traceforge_cli import context
from traceforge_cli.context import home_option

if TYPE_CHECKING:
    from textual_serve.server import Server

    from traceforge_web_api.security import HostAllowlist

#: The address ``--web`` listens on: this machine only (traces hold prompts and answers).
WEB_HOST = "127.0.0.1"


def web_command(home: str) -> str:
    """The shell command textual-serve runs for each browser session: this same UI, in a
    new process, on ``home``."""
    return shlex.join([sys.executable, "-m", "traceforge_cli.main", "--home", home, "ui"])


def web_refusal(
    host: str | None, origin: str | None, hosts: HostAllowlist
) -> tuple[int, str] | None:
    """Why ``--web`` must refuse a request, as ``(status, message)``, or ``None``.

    The rules of the REST API (:mod:`traceforge_web_api.security`): a ``Host`` that is not a
    loopback or configured name is ``421`` (DNS rebinding); an ``Origin`` of another host is
    ``403`` on every request, reads too, since the page's websocket (a ``GET``) drives the UI
    and browsers let any page open a websocket anywhere.
    """
    from traceforge_web_api.security import origin_problem

    if not hosts.allows_header(host):
        shown = "no Host header" if not host else f"Host {host[:200]!r}"
        return 421, f"{shown} is not this server's: it answers to 127.0.0.1, localhost, [::1]"
    if origin is not None:
        problem = origin_problem(origin, hosts)
        if problem is not None:
            return 403, problem
    return None


def guarded_server(
    server_class: type[Server], command: str, port: int, allowed: list[str]
) -> Server:
    """A textual-serve server of ``command`` on :data:`WEB_HOST`:``port`` whose aiohttp app
    refuses what :func:`web_refusal` refuses (a middleware added to the app it makes), with
    ``{"error": message}``. ``allowed``: extra host names (``api.allowed_hosts``).

    Raises:
        ValueError: a name of ``allowed`` is not a host name.
    """
    from aiohttp import web

    from traceforge_web_api.security import HostAllowlist

    hosts = HostAllowlist(allowed)

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        refusal = web_refusal(request.headers.get("Host"), request.headers.get("Origin"), hosts)
        if refusal is not None:
            return web.json_response({"error": refusal[1]}, status=refusal[0])
        return await handler(request)

    class GuardedServer(server_class):  # type: ignore[valid-type,misc]
        async def _make_app(self) -> web.Application:
            app: web.Application = await super()._make_app()
            app.middlewares.append(guard)
            return app

    server: Server = GuardedServer(command, host=WEB_HOST, port=port, title="TraceForge")
    return server


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
        allowed = context.config().api.allowed_hosts
        server = guarded_server(Server, web_command(str(home.resolve())), port, allowed)
        server.serve()
        return
    from traceforge_shared.store import TraceStore
    from traceforge_tui import make_app

    make_app(TraceStore(home)).run()
