"""``traceforge start``: run the capture proxy in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from traceforge_cli import context
from traceforge_cli.context import home_option, mock_delay_option, port_option
from traceforge_cli.logs import configure_logging
from traceforge_cli.testrun import Mode, RunOptions, run_tests
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import resolve_upstreams
from traceforge_proxy.writer import StorageHealth
from traceforge_shared.evals import TestCase, TestRun
from traceforge_shared.redact.urls import safe_url
from traceforge_web_api.embedded import bind, embedded_server, live_feed
from traceforge_web_api.feed import TraceFeed

#: Where the API listens by default: this machine only.
API_HOST = "127.0.0.1"

#: Environment variable holding the API's bearer token; required to serve it beyond loopback.
API_TOKEN_ENV = "TRACEFORGE_API_TOKEN"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _api_token(api_host: str) -> str | None:
    """The API token: ``$TRACEFORGE_API_TOKEN`` when set (on loopback too: other users and
    programs of this machine can connect), ``None`` when unset on loopback; beyond loopback it
    must be set."""
    token = os.environ.get(API_TOKEN_ENV) or None
    if token is None and not _is_loopback(api_host):
        raise click.ClickException(
            f"--api-host {api_host} exposes your traces and config to the network: set "
            f"{API_TOKEN_ENV} to a secret token (clients then send 'Authorization: Bearer "
            "<token>'), or keep the API on 127.0.0.1"
        )
    return token


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
@port_option(
    "--port", default=None, help="Port to listen on (0: any free port) [default: config, else 8787]"
)
@click.option(
    "--host",
    default=None,
    help="Address to bind [default: config, else 127.0.0.1]. Binding anything but "
    "loopback exposes your traffic to the network.",
)
@port_option(
    "--api-port",
    default=3001,
    help="Port of the REST API served alongside the proxy (0: any free port).",
)
@click.option(
    "--api-host",
    default=API_HOST,
    show_default=True,
    help=f"Address the REST API binds. Anything but loopback requires ${API_TOKEN_ENV}: "
    "a secret every request must then send as 'Authorization: Bearer <token>'.",
)
@click.option("--no-api", is_flag=True, help="Run the proxy only, without the REST API.")
@mock_delay_option("--mock-delay-ms", default=20.0)
def start(
    upstream: str | None,
    port: int | None,
    host: str | None,
    api_port: int,
    api_host: str,
    no_api: bool,
    mock_delay_ms: float,
) -> None:
    """Run the capture proxy until Ctrl-C.

    Apps point their SDK at it, e.g. OpenAI(base_url="http://127.0.0.1:8787/v1"); each call
    is forwarded to the upstream, streamed back untouched, and recorded as a trace.
    """
    cfg = context.config()
    configure_logging(cfg.redaction)  # one redacted line per problem, no traceback
    context.ensure_home()  # a home that cannot exist fails now, not trace by trace
    if port is not None:
        cfg.proxy.port = port
    if host is not None:
        cfg.proxy.host = host
    if upstream is not None and cfg.proxy.default_provider is None:
        cfg.proxy.default_provider = "openai"  # an explicit upstream takes every other model
    chosen = resolve_upstreams(cfg, override_url=upstream)
    store = context.store()
    # The API's live feed hears of each trace from the proxy's writer (a ``saved`` addon).
    feed = None if no_api else live_feed(store)
    addons = () if feed is None else (feed,)
    service = ProxyService(cfg, chosen, store, addons=addons, mock_delay_ms=mock_delay_ms)
    console = Console()
    api_socket = None
    api_token = None
    if not no_api:
        api_token = _api_token(api_host)
        try:
            api_socket = bind(api_host.strip("[]"), api_port)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise click.ClickException(
                f"cannot serve the API on {api_host}:{api_port}: {reason}; "
                "pass --api-host, --api-port or --no-api"
            ) from exc
    try:
        asyncio.run(_serve(service, console, api_socket, api_token, feed))
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


def storage_warning(health: StorageHealth) -> str:
    """The console line (rich markup) for a change of the proxy's storage health."""
    if health.status == "degraded":
        return (
            f"[bold yellow]warning:[/] cannot save traces ({escape(health.store_error or '')}): "
            "holding them in memory and retrying; see /healthz"
        )
    lost = f", {health.dropped_traces} dropped meanwhile" if health.dropped_traces else ""
    return f"[green]saving traces again[/]: every held trace is saved{lost}"


def _test_runner(
    service: ProxyService, feed: TraceFeed | None = None
) -> Callable[[list[tuple[Path, TestCase]], str], Awaitable[TestRun]]:
    """``POST /api/tests/run`` with ``mode`` ``proxy`` or ``direct``: the CLI's runner, with
    this proxy's config and store (each test's call is recorded like ``traceforge test run``,
    and announced on ``feed``)."""

    async def run(cases: list[tuple[Path, TestCase]], mode: str) -> TestRun:
        chosen: Mode = "direct" if mode == "direct" else "proxy"
        return await run_tests(
            cases,
            config=service.config,
            store=service.store,
            options=RunOptions(mode=chosen),
            addons=() if feed is None else (feed,),
        )

    return run


async def _serve(
    service: ProxyService,
    console: Console,
    api_socket: socket.socket | None,
    api_token: str | None,
    feed: TraceFeed | None = None,
) -> None:
    await service.start()
    loop = asyncio.get_running_loop()
    # One line when saving traces starts failing (disk full, read-only) and when it recovers.
    service.writer.on_health_change = lambda health: loop.call_soon_threadsafe(
        console.print, storage_warning(health)
    )
    console.print(f"[bold green]TraceForge proxy[/] listening on [bold]{service.url}[/]")
    for provider, upstream in service.upstreams.items():
        if upstream.base_url is None:
            continue  # azure without a configured resource
        label = "  [dim](built-in mock: no key set)[/]" if upstream.mock else ""
        console.print(f"  {provider + ':':<10} {escape(safe_url(upstream.base_url))}{label}")
    console.print(f"  traces:   {service.store.traces_dir}")
    api = None
    api_task: asyncio.Task[None] | None = None
    if api_socket is not None:
        # Host names served: loopback, api.allowed_hosts and the address bound (unless 0.0.0.0)
        hosts = list(service.config.api.allowed_hosts)
        bound = ipaddress.ip_address(api_socket.getsockname()[0])
        if not bound.is_unspecified:
            hosts.append(f"[{bound}]" if bound.version == 6 else str(bound))
        api = embedded_server(
            service.store,
            token=api_token,
            test_runner=_test_runner(service, feed),
            feed=feed,
            allowed_hosts=hosts,
        )
        api_task = asyncio.create_task(api.serve(sockets=[api_socket]))
        api_host, api_port = api_socket.getsockname()[:2]
        shown_host = f"[{api_host}]" if ":" in api_host else api_host
        secured = "  [dim](bearer token required)[/]" if api_token else ""
        console.print(f"  REST API: http://{shown_host}:{api_port}/api/traces{secured}")
    base = service.url.removesuffix("/v1")
    console.print(
        f'  use it:   OpenAI(base_url="{service.url}")  (any model: gpt-*, claude-*, ...)'
    )
    console.print(f'            Anthropic(base_url="{base}/anthropic")  [dim]Ctrl-C to stop[/]')
    stopping = asyncio.Event()
    # SIGTERM (kill, systemd, docker stop) stops like Ctrl-C: queued traces are saved first.
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()
    finally:
        if api is not None and api_task is not None:
            api.should_exit = True
            with contextlib.suppress(Exception):
                await api_task
        with contextlib.suppress(Exception):
            await service.stop()
