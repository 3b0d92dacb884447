"""The terminal UI served to a browser (``traceforge ui --web``, ``traceforge start --ui``):
textual-serve with TraceForge's own page and guards.

- Offline: the page (``web_templates/app_index.html``) links no web font or CDN; xterm.js,
  its CSS and the Roboto Mono font come from textual-serve's own ``static/``.
- Relative: every URL of the page is relative and the websocket's address comes from
  ``window.location``, so a forwarded port (``ssh -L 9000:127.0.0.1:8000``) or a path prefix
  works; nothing depends on the address the server was started with.
- Deep links: ``/?trace=ID`` opens that trace, ``/?screen=NAME`` a screen
  (:data:`SCREENS`); the page connects to ``/ws/trace/ID`` or ``/ws/screen/NAME`` and the UI
  process of that connection starts with ``--trace ID`` / ``--screen NAME``.
- Guarded: the REST API's Host and Origin rules (:func:`web_refusal`) on every request,
  the websocket included.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web
    from textual_serve.server import Server

    from traceforge_web_api.security import HostAllowlist

#: The address the web UI listens on: this machine only (traces hold prompts and answers).
WEB_HOST = "127.0.0.1"

#: The screens a deep link may open (``/?screen=NAME``): the app's actions of those names.
SCREENS = ("dashboard", "config", "tests", "runs", "sessions")

#: A trace id or id prefix in a deep link (hexadecimal, dashes allowed).
TRACE_ID_RE = re.compile(r"^[0-9A-Za-z-]{1,64}$")

#: TraceForge's page in place of textual-serve's ``templates/app_index.html``.
TEMPLATES = Path(__file__).parent / "web_templates"

log = logging.getLogger(__name__)


def web_command(home: str, start: list[str] | None = None) -> str:
    """The shell command textual-serve runs for each browser session: this same UI, in a
    new process, on ``home``, with the deep link's ``start`` options (``--trace ID``)."""
    command = [sys.executable, "-m", "traceforge_cli.main", "--home", home, "ui"]
    return shlex.join(command + (start or []))


def start_options(kind: str, value: str) -> list[str]:
    """The ``traceforge ui`` options of a deep link: ``trace``/``ID`` → ``--trace ID``,
    ``screen``/``NAME`` → ``--screen NAME``.

    Raises:
        ValueError: an unknown kind, a trace id that is not one, or a screen not in
            :data:`SCREENS`.
    """
    if kind == "trace" and TRACE_ID_RE.match(value):
        return ["--trace", value]
    if kind == "screen" and value in SCREENS:
        return ["--screen", value]
    if kind == "screen":
        raise ValueError(f"no screen {value[:40]!r}: one of {', '.join(SCREENS)}")
    raise ValueError(f"not a deep link: {kind[:20]}={value[:70]!r}")


def web_refusal(
    host: str | None, origin: str | None, hosts: HostAllowlist
) -> tuple[int, str] | None:
    """Why the web UI must refuse a request, as ``(status, message)``, or ``None``.

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
    server_class: type[Server], home: str | Path, port: int, allowed: list[str]
) -> Server:
    """A textual-serve server of the UI on ``home`` at :data:`WEB_HOST`:``port``: TraceForge's
    page, deep links, and a middleware refusing what :func:`web_refusal` refuses (with
    ``{"error": message}``). ``allowed``: extra host names (``api.allowed_hosts``).
    ``server_class`` is textual-serve's ``Server`` (passed in: imported only when serving).

    Raises:
        ValueError: a name of ``allowed`` is not a host name.
    """
    from aiohttp import web
    from textual_serve.app_service import AppService

    from traceforge_web_api.security import HostAllowlist

    hosts = HostAllowlist(allowed)
    home_text = str(home)

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        refusal = web_refusal(request.headers.get("Host"), request.headers.get("Origin"), hosts)
        if refusal is not None:
            return web.json_response({"error": refusal[1]}, status=refusal[0])
        return await handler(request)

    class TraceForgeServer(server_class):  # type: ignore[valid-type,misc]
        async def _make_app(self) -> web.Application:
            app: web.Application = await super()._make_app()
            app.middlewares.append(guard)
            app.router.add_get("/ws/{kind}/{value}", self.handle_deep_link)
            return app

        async def on_startup(self, app: web.Application) -> None:
            """Quiet: the command prints its own line."""

        async def handle_deep_link(self, request: web.Request) -> web.StreamResponse:
            try:
                start = start_options(request.match_info["kind"], request.match_info["value"])
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=404)
            return await self.serve_session(request, web_command(home_text, start))

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            return await self.serve_session(request, self.command)

        async def serve_session(self, request: web.Request, command: str) -> web.StreamResponse:
            """textual-serve's ``handle_websocket``, running ``command`` for this browser."""
            websocket = web.WebSocketResponse(heartbeat=15)
            width = _to_int(request.query.get("width"), 80)
            height = _to_int(request.query.get("height"), 24)
            service: Any = None

            async def close() -> None:
                await websocket.close()

            try:
                await websocket.prepare(request)
                service = AppService(
                    command,
                    write_bytes=websocket.send_bytes,
                    write_str=websocket.send_str,
                    close=close,
                    download_manager=self.download_manager,
                    debug=self.debug,
                )
                await service.start(width, height)
                await self._process_messages(websocket, service)
            except asyncio.CancelledError:
                await websocket.close()
            except Exception:  # one browser's session failing must not stop the server
                log.exception("web UI session failed")
            finally:
                if service is not None:
                    await service.stop()
            return websocket

    server: Server = TraceForgeServer(
        web_command(home_text),
        host=WEB_HOST,
        port=port,
        title="TraceForge",
        templates_path=TEMPLATES,
    )
    return server


def _to_int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def serve_beside(server: Server, port: int) -> Callable[[], Awaitable[None]]:
    """Serve ``server``'s app on :data:`WEB_HOST`:``port`` in the running event loop (beside
    the proxy, for ``traceforge start --ui``); returns the coroutine function that stops it.

    Raises:
        OSError: the port cannot be bound.
    """
    from aiohttp import web

    runner = web.AppRunner(await server._make_app())
    await runner.setup()
    try:
        await web.TCPSite(runner, WEB_HOST, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner.cleanup
