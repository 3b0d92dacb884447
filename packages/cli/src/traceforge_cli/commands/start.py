"""``traceforge start``: run the capture proxy in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket

import click
from rich.console import Console

from traceforge_cli import context
from traceforge_cli.context import home_option
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import resolve_upstreams
from traceforge_web_api.embedded import bind, embedded_server

#: The API binds to loopback only; exposing it needs the token support of a later version.
API_HOST = "127.0.0.1"


@click.command()
@home_option
@click.option(
    "--upstream",
    metavar="URL",
    default=None,
    help="OpenAI-compatible API base to forward to, e.g. https://api.openai.com/v1 "
    "[default: config, else OpenAI if $OPENAI_API_KEY is set, else the "
    "built-in mock upstream]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (0: any free port) [default: config, else 8787]",
)
@click.option(
    "--host",
    default=None,
    help="Address to bind [default: config, else 127.0.0.1]. Binding anything but "
    "loopback exposes your traffic to the network.",
)
@click.option(
    "--api-port",
    type=click.IntRange(0, 65535),
    default=3001,
    show_default=True,
    help="Port of the REST API served alongside the proxy on 127.0.0.1 (0: any free port).",
)
@click.option("--no-api", is_flag=True, help="Run the proxy only, without the REST API.")
@click.option(
    "--mock-delay-ms",
    type=click.FloatRange(0),
    default=20.0,
    show_default=True,
    help="Pause between SSE events of the built-in mock upstream.",
)
def start(
    upstream: str | None,
    port: int | None,
    host: str | None,
    api_port: int,
    no_api: bool,
    mock_delay_ms: float,
) -> None:
    """Run the capture proxy until Ctrl-C.

    Apps point their SDK at it, e.g. OpenAI(base_url="http://127.0.0.1:8787/v1"); each call
    is forwarded to the upstream, streamed back untouched, and recorded as a trace.
    """
    cfg = context.config()
    if port is not None:
        cfg.proxy.port = port
    if host is not None:
        cfg.proxy.host = host
    if upstream is not None and cfg.proxy.default_provider is None:
        cfg.proxy.default_provider = "openai"  # an explicit upstream takes every other model
    chosen = resolve_upstreams(cfg, override_url=upstream)
    service = ProxyService(cfg, chosen, context.store(), mock_delay_ms=mock_delay_ms)
    console = Console()
    api_socket = None
    if not no_api:
        try:
            api_socket = bind(API_HOST, api_port)
        except OSError as exc:
            raise click.ClickException(
                f"cannot serve the API on {API_HOST}:{api_port}: {exc.strerror}; "
                "pass --api-port or --no-api"
            ) from exc
    try:
        asyncio.run(_serve(service, console, api_socket))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {cfg.proxy.port} on {cfg.proxy.host} is already in use; "
                "stop the other process or pass --port"
            ) from exc
        raise click.ClickException(f"cannot start the proxy: {exc}") from exc
    finally:
        if api_socket is not None:
            api_socket.close()
    console.print("[dim]stopped; traces saved in[/] " + str(service.store.traces_dir))


async def _serve(service: ProxyService, console: Console, api_socket: socket.socket | None) -> None:
    await service.start()
    console.print(f"[bold green]TraceForge proxy[/] listening on [bold]{service.url}[/]")
    for provider, upstream in service.upstreams.items():
        if upstream.base_url is None:
            continue  # azure without a configured resource
        label = "  [dim](built-in mock: no key set)[/]" if upstream.mock else ""
        console.print(f"  {provider + ':':<10} {upstream.base_url}{label}")
    console.print(f"  traces:   {service.store.traces_dir}")
    api = None
    api_task: asyncio.Task[None] | None = None
    if api_socket is not None:
        api = embedded_server(service.store)
        api_task = asyncio.create_task(api.serve(sockets=[api_socket]))
        api_port = api_socket.getsockname()[1]
        console.print(f"  REST API: http://{API_HOST}:{api_port}/api/traces")
    base = service.url.removesuffix("/v1")
    console.print(
        f'  use it:   OpenAI(base_url="{service.url}")  (any model: gpt-*, claude-*, ...)'
    )
    console.print(f'            Anthropic(base_url="{base}/anthropic")  [dim]Ctrl-C to stop[/]')
    try:
        await asyncio.Event().wait()
    finally:
        if api is not None and api_task is not None:
            api.should_exit = True
            with contextlib.suppress(Exception):
                await api_task
        with contextlib.suppress(Exception):
            await service.stop()
