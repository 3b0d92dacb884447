"""The capture proxy: an aiohttp app forwarding LLM API calls and recording traces.

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
- ``GET /healthz``.

Every recorded response carries an ``X-TraceForge-Trace-Id`` header naming its trace.

Relayed streams (``text/event-stream``, Ollama's ``application/x-ndjson``) are written to the
client read by read, as the upstream's bytes; events are framed and timed alongside, never
altered. The only bytes ever withheld are those of the usage-only chunk the proxy asked for on
the client's behalf (``stream_options.include_usage``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Literal

import aiohttp
import msgspec
from aiohttp import web

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.headers import relayed_response_headers
from traceforge_proxy.hooks import Addons
from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer, plan_request
from traceforge_proxy.relay import Relay, converted_answer, start_relay
from traceforge_proxy.routing import Router
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import PROVIDERS, Config, ProxyConfig
from traceforge_shared.ids import new_trace_id, utc_timestamp

log = logging.getLogger("traceforge.proxy")

#: Client-side failures while writing to the client: it hung up.
_CLIENT_GONE = (ConnectionResetError, ConnectionError)

#: Upstream failures while reading its answer.
_UPSTREAM_FAILED = (aiohttp.ClientError, asyncio.TimeoutError)

SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)

#: Response header naming the trace a call is recorded as (``traceforge trace show <id>``).
TRACE_ID_HEADER = "X-TraceForge-Trace-Id"
_TRACE_ID_KEY: web.RequestKey[str] = web.RequestKey("traceforge_trace_id", str)

_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def _upstream_failed(exchange: Exchange, exc: BaseException) -> None:
    kind: Literal["timeout", "failed"] = "timeout" if isinstance(exc, TimeoutError) else "failed"
    exchange.upstream_failed(kind, f"{exc or type(exc).__name__}", time.perf_counter_ns())


class ProxyHandler:
    """Forwards requests as :func:`~traceforge_proxy.plan.plan_request` decides, relays the
    answers through :mod:`~traceforge_proxy.relay` and fires the flow hooks of ``addons``
    (``request``, ``response_headers``, ``chunk``, then one of ``response`` / ``error``).

    Args:
        upstreams: provider name → upstream (``base_url`` set, except an unconfigured Azure).
        router: model-name routing for the front door.
        addons: the flow hooks (the trace writer among them).
        config: timeouts, pool size, chunk cap.
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        router: Router,
        addons: Addons,
        config: ProxyConfig,
    ) -> None:
        self.upstreams = dict(upstreams)
        self.router = router
        self.addons = addons
        self.config = config
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.connect_timeout_s,
            sock_connect=config.connect_timeout_s,
            sock_read=config.read_timeout_s,
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``/v1/{tail}`` (chat completions routed by model; the rest to OpenAI),
        ``/{provider}/{tail}`` and ``/passthrough/{provider}/{tail}`` (relayed as is)."""
        started = time.perf_counter_ns()
        timestamp = utc_timestamp()
        body = await request.read()
        client = ClientRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=list(request.headers.items()),
            body=body,
            json=_decode_request(body),
            provider=request.match_info.get("provider"),
            tail=request.match_info["tail"],
        )
        exchange = Exchange(
            trace_id=new_trace_id(),
            timestamp=timestamp,
            started_ns=started,
            method=request.method,
            endpoint=request.path if client.provider is not None else f"/v1/{client.tail}",
            provider="openai",
            request_body=body,
            request_json=client.json,
            chunk_cap=self.config.chunk_cap,
        )
        request[_TRACE_ID_KEY] = exchange.trace_id
        self.addons.request(exchange)
        try:
            plan = plan_request(client, self.router, self.upstreams)
            if isinstance(plan, ProxyAnswer):
                return self._answer(exchange, plan)
            return await self._forward(request, plan, exchange)
        except asyncio.CancelledError:
            exchange.client_gone(time.perf_counter_ns())
            raise
        finally:
            exchange.end(time.perf_counter_ns())
            if exchange.failed:
                self.addons.error(exchange)
            else:
                self.addons.response(exchange)

    def _answer(self, exchange: Exchange, answer: ProxyAnswer) -> web.Response:
        """The proxy answers itself."""
        exchange.answer(answer)
        self.addons.response_headers(exchange)
        return web.Response(
            status=answer.status, body=answer.body, headers={"Content-Type": answer.content_type}
        )

    def _failed(self, exchange: Exchange) -> web.Response:
        """The upstream failed before an answer started: the proxy's error answer."""
        self.addons.response_headers(exchange)
        return web.Response(
            status=exchange.status_code,
            body=exchange.response_body,
            content_type="application/json",
        )

    async def _forward(
        self, request: web.Request, plan: ForwardingPlan, exchange: Exchange
    ) -> web.StreamResponse:
        """Send the planned request; relay the answer (a stream read by read)."""
        exchange.sending(plan, time.perf_counter_ns())
        session = request.app[SESSION_KEY]
        try:
            upstream_response = await session.request(
                plan.method,
                plan.url,
                data=plan.body or None,
                headers=plan.headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except _UPSTREAM_FAILED as exc:
            _upstream_failed(exchange, exc)
            return self._failed(exchange)
        status, upstream_headers = upstream_response.status, upstream_response.headers
        created = int(time.time())  # dates the OpenAI objects converted from the answer
        exchange.headers_received(status, upstream_headers.items(), time.perf_counter_ns(), created)
        framing = plan.framing(status, upstream_headers.get("Content-Type", ""))
        if framing is not None:
            relay = start_relay(plan, exchange, framing, status, created)
            response = web.StreamResponse(status=status)
            if plan.mode == "convert":
                response.headers.update(_SSE_HEADERS)
            else:
                for name, value in relayed_response_headers(upstream_headers.items()):
                    response.headers.add(name, value)
                response.headers["Cache-Control"] = "no-cache"
                response.headers["X-Accel-Buffering"] = "no"
            self.addons.response_headers(exchange)
            return await self._stream(request, upstream_response, response, relay, exchange)
        try:
            payload = await upstream_response.read()
        except _UPSTREAM_FAILED as exc:
            upstream_response.close()
            _upstream_failed(exchange, exc)
            return self._failed(exchange)
        finally:
            upstream_response.release()
        exchange.body_received(payload)
        if plan.mode == "convert":
            return self._answer(exchange, converted_answer(plan, status, payload, created))
        self.addons.response_headers(exchange)
        response = web.Response(status=status, body=payload)
        for name, value in relayed_response_headers(upstream_headers.items()):
            response.headers.add(name, value)
        return response

    async def _stream(
        self,
        request: web.Request,
        upstream_response: aiohttp.ClientResponse,
        response: web.StreamResponse,
        relay: Relay,
        exchange: Exchange,
    ) -> web.StreamResponse:
        """Pump the upstream's reads through ``relay`` to the client."""
        chunk_hook = self.addons.has("chunk")
        complete = False
        try:
            await response.prepare(request)
            async for data in upstream_response.content.iter_any():
                stored = len(exchange.chunks)
                out = relay.feed(data, time.perf_counter_ns())
                if out:
                    await response.write(out)
                if chunk_hook:
                    self._chunks(exchange, stored)
                if relay.done:
                    break  # the provider's stream failed; the client got the error
            stored = len(exchange.chunks)
            out = relay.close(time.perf_counter_ns())
            if out:
                await response.write(out)
            if chunk_hook:
                self._chunks(exchange, stored)
            complete = True
            exchange.end(time.perf_counter_ns())
            await response.write_eof()
        except _CLIENT_GONE as exc:
            if not complete:
                exchange.client_gone(time.perf_counter_ns(), str(exc))
        except _UPSTREAM_FAILED as exc:
            _upstream_failed(exchange, exc)
            # Tell the client the stream is broken: end the connection without the final
            # chunk of the chunked encoding, as the upstream did to us.
            if request.transport is not None:
                request.transport.close()
        finally:
            if complete:
                upstream_response.release()
            else:
                upstream_response.close()
        return response

    def _chunks(self, exchange: Exchange, stored: int) -> None:
        for chunk in exchange.chunks[stored:]:
            self.addons.chunk(exchange, chunk)


def _decode_request(body: bytes) -> object:
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


def create_proxy_app(
    upstreams: Upstream | Mapping[str, Upstream],
    addons: Addons | object,
    config: ProxyConfig | Config | None = None,
) -> web.Application:
    """Return the proxy's aiohttp application (routes: see the module docstring).

    Args:
        upstreams: every provider's upstream, or a single OpenAI upstream (then the other
            providers are unreachable and every model goes to it).
        addons: the flow hooks (:class:`~traceforge_proxy.hooks.Addons`), or a single addon
            such as a :class:`~traceforge_proxy.writer.TraceWriter` (wrapped in ``Addons``).
        config: the whole config (routing patterns, Azure deployments, proxy settings) or
            just its ``proxy`` part.

    The app owns one ``ClientSession`` (pool of ``proxy.max_connections`` upstream
    connections), closed with the app.
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
    handler = ProxyHandler(upstreams, Router(full), hooks, proxy_config)
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=proxy_config.max_connections)
        app[SESSION_KEY] = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, trust_env=False
        )
        yield
        await app[SESSION_KEY].close()

    async def health(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "upstream": handler.upstreams["openai"].base_url,
                "upstreams": {p: u.base_url for p, u in handler.upstreams.items()},
            }
        )

    async def trace_id_header(request: web.Request, response: web.StreamResponse) -> None:
        trace_id = request.get(_TRACE_ID_KEY)
        if trace_id is not None:
            response.headers[TRACE_ID_HEADER] = trace_id

    app.cleanup_ctx.append(session_ctx)
    app.on_response_prepare.append(trace_id_header)
    app.router.add_get("/healthz", health)
    app.router.add_route("*", "/v1/{tail:.*}", handler.handle)
    app.router.add_route("*", "/passthrough/{provider}/{tail:.*}", handler.handle)
    app.router.add_route("*", "/{provider}/{tail:.*}", handler.handle)
    return app
