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
from traceforge_cli.cassette_end import CassetteRunEnd
from traceforge_cli.context import home_option, mock_delay_option, port_option
from traceforge_cli.logs import AccessLog, configure_logging
from traceforge_cli.testrun import Mode, RunOptions, run_tests
from traceforge_proxy.modes import ON_MISS, PROXY_MODES, cassette_options
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.upstream import resolve_upstreams
from traceforge_proxy.writer import StorageHealth
from traceforge_proxy.writer_process import WriterProcessError
from traceforge_shared.cassettes import CassetteError
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
@click.option(
    "--ui",
    "serve_ui",
    is_flag=True,
    help="Also serve the UI to a browser (as `traceforge ui --web`) on 127.0.0.1:--ui-port.",
)
@port_option("--ui-port", default=8000, help="Port of --ui.")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No access line per call (budget alerts and problems are still printed).",
)
@click.option(
    "--json",
    "json_lines",
    is_flag=True,
    help="Access lines as JSON objects, one a line (timestamp, provider, model, status, "
    "status_code, error_type, latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd, "
    "trace_id).",
)
@click.option(
    "--mode",
    type=click.Choice(PROXY_MODES),
    default="live",
    show_default=True,
    help="Cassette mode (docs/replay.md): record every call to --cassette, replay from it "
    "with no network, or auto (replay on a hit, record on a miss).",
)
@click.option(
    "--cassette",
    metavar="NAME",
    default=None,
    help="Cassette to record to or replay from: .ai-tests/cassettes/NAME/.",
)
@click.option(
    "--timing",
    metavar="recorded|fast|scale:X",
    default=None,
    help="Replay pacing [default: config replay.timing, else recorded].",
)
@click.option(
    "--on-miss",
    type=click.Choice(ON_MISS),
    default=None,
    help="--mode replay: what a request with no recording does [default: config "
    "replay.on_miss, else error: a 400 naming the nearest recording].",
)
@click.option(
    "--ignore-field",
    "ignore_fields",
    metavar="PATH",
    multiple=True,
    help="Request body field not matched on replay (repeatable), e.g. temperature or "
    "'messages[*].name'; added to config replay.ignore_fields.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="--mode replay/auto: exit 1 at shutdown when recordings were not replayed (they are "
    "listed either way; traceforge cassette prune removes them).",
)
@mock_delay_option("--mock-delay-ms", default=20.0)
def start(
    upstream: str | None,
    port: int | None,
    host: str | None,
    api_port: int,
    api_host: str,
    no_api: bool,
    quiet: bool,
    json_lines: bool,
    mock_delay_ms: float,
    mode: str = "live",
    cassette: str | None = None,
    timing: str | None = None,
    on_miss: str | None = None,
    ignore_fields: tuple[str, ...] = (),
    strict: bool = False,
    serve_ui: bool = False,
    ui_port: int = 8000,
) -> None:
    """Run the capture proxy until Ctrl-C.

    Apps point their SDK at it, e.g. OpenAI(base_url="http://127.0.0.1:8787/v1"); each call
    is forwarded to the upstream, streamed back untouched, and recorded as a trace. One
    line per call is printed as its trace is saved: time (UTC), provider, model, status,
    latency, time to first token, tokens in/out, cost, trace id.
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
    try:
        recording = cassette_options(
            cfg, mode, cassette, timing=timing, on_miss=on_miss, ignore_fields=ignore_fields
        )
    except (ValueError, CassetteError) as exc:
        raise click.UsageError(str(exc)) from exc
    # The API's live feed hears of each trace from the proxy's writer (a ``saved`` addon).
    feed = None if no_api else live_feed(store)
    console = Console()
    addons: list[object] = [] if feed is None else [feed]
    if not quiet:  # one line per call, printed from the writer's thread as it saves
        addons.append(AccessLog(lambda line: _print_plain(console, line), as_json=json_lines))
    ending = CassetteRunEnd(recording, store.home, strict)  # unused recordings, drift
    addons += ending.addons
    try:
        # Traces are saved by a writer process of its own (storage.writer, default process).
        service = ProxyService(
            cfg,
            chosen,
            store,
            addons=addons,
            mock_delay_ms=mock_delay_ms,
            cassette=recording,
            writer="process",
        )
    except (CassetteError, ValueError) as exc:  # an invalid cassette name, writer mode
        raise click.UsageError(str(exc)) from exc
    if service.budgets is not None:
        service.budgets.on_alert = lambda line: console.print(
            f"[bold yellow]{escape(line)}[/]", soft_wrap=True
        )
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
        asyncio.run(
            _serve(service, console, api_socket, api_token, feed, ui_port if serve_ui else None)
        )
    except KeyboardInterrupt:
        pass
    except CassetteError as exc:  # a cassette file that cannot be read
        raise click.ClickException(f"cannot replay: {exc}") from exc
    except WriterProcessError as exc:
        raise click.ClickException(f"cannot start the proxy: {exc}") from exc
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
    ending.finish(console, service)


def _print_plain(console: Console, line: str) -> None:
    """Print ``line`` as is: no markup, no highlighting, never wrapped. Written straight to
    the console's file (one ``write``, so lines never mix with rich's own output): rich's
    rendering cost ~0.1 ms a line on the proxy's GIL, once per call. A line the file's
    encoding cannot hold goes through rich, which replaces what it cannot encode."""
    file = console.file
    try:
        file.write(line + "\n")
        file.flush()
    except UnicodeEncodeError:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


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
    ui_port: int | None = None,
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
    if service.cassette is not None:
        options = service.cassette.options
        loaded = "" if service.cassette.index is None else f", {len(service.cassette.index)} loaded"
        console.print(
            f"  cassette: {escape(str(service.cassette.cassette.path))} "
            f"[dim]({options.mode}{loaded}, timing {options.timing}, "
            f"on miss {options.miss_action})[/]"
        )
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
    stop_ui = None
    if ui_port is not None:  # the browser UI beside the proxy (traceforge_cli.webui)
        stop_ui = await _serve_ui(service, console, ui_port)
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
        if stop_ui is not None:
            with contextlib.suppress(Exception):
                await stop_ui()
        with contextlib.suppress(Exception):
            await service.stop()


async def _serve_ui(
    service: ProxyService, console: Console, port: int
) -> Callable[[], Awaitable[None]] | None:
    """Serve the browser UI of the proxy's home on 127.0.0.1:``port``; the function that
    stops it, or ``None`` (with a console line) when the port cannot be bound."""
    from textual_serve.server import Server

    from traceforge_cli.webui import WEB_HOST, guarded_server, serve_beside

    server = guarded_server(
        Server, service.store.home.resolve(), port, list(service.config.api.allowed_hosts)
    )
    try:
        stop = await serve_beside(server, port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        console.print(f"[bold yellow]warning:[/] no browser UI on port {port}: {escape(reason)}")
        return None
    console.print(f"  web UI:   http://{WEB_HOST}:{port}/  [dim](/?trace=ID links a trace)[/]")
    return stop
