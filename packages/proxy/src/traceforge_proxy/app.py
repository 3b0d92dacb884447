"""The capture proxy's aiohttp application: routes, ``/healthz``, the upstream session.

Routes (each call is recorded as one trace, see ``traceforge_shared.trace.ROUTES``):

- ``POST /v1/chat/completions``: the OpenAI-format front door. The model name picks the
  provider (:mod:`traceforge_proxy.routing`). OpenAI-compatible providers (OpenAI, xAI, Azure)
  get the request as is; the others get it converted by their adapter, and their answer is
  converted back into an OpenAI ``chat.completion`` or, streaming, into ``chat.completion.chunk``
  SSE events sent as each provider event arrives.
- any other ``/v1/{path}``: forwarded to the OpenAI upstream as is.
- ``/{provider}/{path}`` (``/anthropic/v1/messages``, ``/gemini/v1beta/models/...``,
  ``/ollama/api/chat``, ``/cohere/v2/chat``, ``/xai/v1/...``) and
  ``/passthrough/{provider}/{path}``: the provider's own API, bytes relayed untouched both
  ways; the trace also gets the OpenAI view of chat calls.
- ``GET /_traceforge/events``: calls in flight as server-sent events
  (:mod:`traceforge_proxy.live`), served by any addon with a ``register_routes`` method.
- ``GET /healthz``: always 200 while serving; ``status`` is ``ok``, or ``degraded`` while
  traces cannot be saved (with ``unsaved_traces``, ``dropped_traces``, ``store_error``).

Every recorded response carries an ``X-TraceForge-Trace-Id`` header naming its trace, and calls
in a budget's scope an ``X-TraceForge-Budget`` header (:mod:`traceforge_proxy.budgets`).

The handler (:class:`~traceforge_proxy.server.ProxyHandler`) does the forwarding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import aiohttp
import msgspec
from aiohttp import web

from traceforge_proxy.hooks import Addons
from traceforge_proxy.routing import Router
from traceforge_proxy.server import (
    ADDED_HEADERS_KEY,
    HANDLER_KEY,
    SESSION_KEY,
    TRACE_ID_HEADER,
    TRACE_ID_KEY,
    ProxyHandler,
)
from traceforge_proxy.transport import (
    LiveSender,
    OfflineConnector,
    PooledSender,
    UpstreamSender,
)
from traceforge_proxy.upstream import Upstream
from traceforge_proxy.upstream_pool import UpstreamPool
from traceforge_shared.config import PROVIDERS, Config, ProxyConfig
from traceforge_shared.redact.urls import safe_url


def _shown(url: str | None) -> str | None:
    return None if url is None else safe_url(url)


def create_proxy_app(
    upstreams: Upstream | Mapping[str, Upstream],
    addons: Addons | object,
    config: ProxyConfig | Config | None = None,
    *,
    sender: UpstreamSender | None = None,
    offline: bool = False,
) -> web.Application:
    """Return the proxy's aiohttp application (routes: see the module docstring).

    Args:
        upstreams: every provider's upstream, or a single OpenAI upstream (then the other
            providers are unreachable and every model goes to it).
        addons: the flow hooks (:class:`~traceforge_proxy.hooks.Addons`), or a single addon
            such as a :class:`~traceforge_proxy.writer.TraceWriter` (wrapped in ``Addons``).
        config: the whole config (routing patterns, Azure deployments, proxy settings) or
            just its ``proxy`` part.
        sender: how planned requests reach upstreams (:mod:`traceforge_proxy.transport`;
            default: the app's session; a cassette session records or replays).
        offline: the app's session never connects (:class:`~traceforge_proxy.transport.
            OfflineConnector`): replaying a cassette with no network.

    The app owns one :class:`~traceforge_proxy.upstream_pool.UpstreamPool` (kept-alive
    upstream connections, at most ``proxy.max_connections`` requests in flight) that sends
    the calls, and one ``ClientSession`` for what the pool leaves to aiohttp, both closed with
    the app. ``TRACEFORGE_UPSTREAM_CLIENT=aiohttp`` sends everything with the session (the
    client before the pool; kept for comparison and as a way out).
    """
    full = config if isinstance(config, Config) else Config()
    proxy_config = config if isinstance(config, ProxyConfig) else full.proxy
    if isinstance(upstreams, Upstream):
        proxy_config = msgspec.structs.replace(proxy_config, default_provider=upstreams.provider)
        full = msgspec.structs.replace(full, proxy=proxy_config)
        table = {p: Upstream(p, None, None, False) for p in PROVIDERS}
        table[upstreams.provider] = upstreams
        upstreams = table
    hooks = addons if isinstance(addons, Addons) else Addons([addons])
    pool: UpstreamPool | None = None
    if sender is None:
        if offline or os.environ.get("TRACEFORGE_UPSTREAM_CLIENT", "").lower() == "aiohttp":
            sender = LiveSender()
        else:
            pool = UpstreamPool(proxy_config.max_connections)
            sender = PooledSender(pool)
    handler = ProxyHandler(
        upstreams, Router(full, upstreams=upstreams), hooks, proxy_config, sender
    )
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[HANDLER_KEY] = handler

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        connector: aiohttp.BaseConnector = (
            OfflineConnector()
            if offline
            else aiohttp.TCPConnector(limit=proxy_config.max_connections)
        )
        # No cookie jar: an upstream's Set-Cookie is relayed to the app that got it, never
        # kept and sent with the next request (of any app sharing the proxy).
        app[SESSION_KEY] = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        yield
        if pool is not None:
            await pool.close()
        await app[SESSION_KEY].close()

    async def health(_: web.Request) -> web.Response:
        # Always 200 while the proxy proxies: "degraded" (traces held in memory because the
        # store cannot be written) must not make a supervisor restart it and lose them.
        body: dict[str, object] = {"status": "ok"}
        for addon in hooks.addons:
            report = getattr(addon, "storage_health", None)
            if callable(report):  # the TraceWriter: status, unsaved/dropped traces, error
                body.update(report().as_dict())
        # Addresses are shown without credentials (a password written into --upstream).
        body["upstream"] = _shown(handler.upstreams["openai"].base_url)
        body["upstreams"] = {p: _shown(u.base_url) for p, u in handler.upstreams.items()}
        return web.json_response(body)

    async def trace_id_header(request: web.Request, response: web.StreamResponse) -> None:
        trace_id = request.get(TRACE_ID_KEY)
        if trace_id is not None:
            response.headers[TRACE_ID_HEADER] = trace_id
        for name, value in request.get(ADDED_HEADERS_KEY, ()):
            response.headers[name] = value

    app.cleanup_ctx.append(session_ctx)
    app.on_response_prepare.append(trace_id_header)
    app.router.add_get("/healthz", health)
    for addon in hooks.addons:  # e.g. live.LiveCalls: GET /_traceforge/events
        register = getattr(addon, "register_routes", None)
        if callable(register):
            register(app.router)
    app.router.add_route("*", "/v1/{tail:.*}", handler.handle)
    app.router.add_route("*", "/passthrough/{provider}/{tail:.*}", handler.handle)
    app.router.add_route("*", "/{provider}/{tail:.*}", handler.handle)
    return app
