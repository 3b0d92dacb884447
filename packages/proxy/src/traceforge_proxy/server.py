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
from typing import Any, Literal

import aiohttp
import msgspec
from aiohttp import web

from traceforge_proxy.errors import error_body
from traceforge_proxy.exchange import Exchange, decode_json
from traceforge_proxy.headers import (
    redact_headers,
    relayed_response_headers,
    upstream_request_headers,
)
from traceforge_proxy.ndjson import NDJSONParser
from traceforge_proxy.providers import ProviderError, adapter_for, native_chat_model
from traceforge_proxy.routing import PROVIDER_HEADER, Router, RoutingError
from traceforge_proxy.sse import SSEEvent, SSEParser
from traceforge_proxy.upstream import CREDENTIAL_HEADERS, OPENAI_COMPATIBLE, Upstream
from traceforge_proxy.writer import TraceWriter
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

#: How the relay loop writes: the upstream's bytes as read, the same minus a withheld usage
#: chunk, or OpenAI chunks converted from the provider's events.
RelayMode = Literal["raw", "withhold_usage", "convert"]

_SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def _sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


class ProxyHandler:
    """Forwards requests to the providers' upstreams and hands each finished exchange to a
    :class:`TraceWriter`.

    Args:
        upstreams: provider name → upstream (``base_url`` set, except an unconfigured Azure).
        router: model-name routing for the front door.
        writer: saves traces.
        config: timeouts, pool size, chunk cap.
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        router: Router,
        writer: TraceWriter,
        config: ProxyConfig,
    ) -> None:
        self.upstreams = dict(upstreams)
        self.router = router
        self.writer = writer
        self.config = config
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.connect_timeout_s,
            sock_connect=config.connect_timeout_s,
            sock_read=config.read_timeout_s,
        )

    # -- entry points -----------------------------------------------------------------------

    async def handle_openai(self, request: web.Request) -> web.StreamResponse:
        """``/v1/{tail}``: chat completions routed by model; everything else to OpenAI."""
        tail = request.match_info["tail"]
        exchange, body = await self._start(request, f"/v1/{tail}")
        try:
            if tail == "chat/completions" and request.method == "POST":
                return await self._chat_completions(request, body, exchange)
            exchange.provider = "openai"
            return await self._forward(request, self.upstreams["openai"], tail, body, exchange)
        except asyncio.CancelledError:
            self._cancelled(exchange)
            raise
        finally:
            exchange.finish()
            self.writer.submit(exchange)

    async def handle_native(self, request: web.Request) -> web.StreamResponse:
        """``/{provider}/{tail}`` and ``/passthrough/{provider}/{tail}``: relayed as is."""
        provider = request.match_info["provider"].lower()
        tail = request.match_info["tail"]
        exchange, body = await self._start(request, request.path)
        try:
            if provider not in PROVIDERS:
                return self._proxy_error(
                    exchange,
                    404,
                    "unknown_provider",
                    f"unknown provider {provider!r} in {request.path}; known: "
                    f"{', '.join(PROVIDERS)}",
                )
            upstream = self.upstreams[provider]
            if provider in OPENAI_COMPATIBLE and tail.startswith("v1/"):
                tail = tail[3:]  # their base URLs already end in /v1
            exchange.provider = provider
            exchange.route = "passthrough"
            model = native_chat_model(provider, tail, exchange.request_json)
            if model is not None:
                exchange.model = model
                exchange.native_endpoint = "/" + tail
                exchange.adapter = adapter_for(provider)
            return await self._forward(request, upstream, tail, body, exchange)
        except asyncio.CancelledError:
            self._cancelled(exchange)
            raise
        finally:
            exchange.finish()
            self.writer.submit(exchange)

    async def _start(self, request: web.Request, endpoint: str) -> tuple[Exchange, bytes]:
        started = time.perf_counter_ns()
        timestamp = utc_timestamp()
        body = await request.read()
        request_json = _decode_request(body)
        exchange = Exchange(
            trace_id=new_trace_id(),
            timestamp=timestamp,
            started_ns=started,
            method=request.method,
            endpoint=endpoint,
            provider="openai",
            request_body=body,
            request_json=request_json,
            chunk_cap=self.config.chunk_cap,
        )
        request[_TRACE_ID_KEY] = exchange.trace_id
        return exchange, body

    @staticmethod
    def _cancelled(exchange: Exchange) -> None:
        exchange.fail(
            "client_disconnected",
            "client_disconnected",
            "the client closed the connection before the answer was complete",
        )

    # -- the front door -------------------------------------------------------------------------

    async def _chat_completions(
        self, request: web.Request, body: bytes, exchange: Exchange
    ) -> web.StreamResponse:
        payload = exchange.request_json
        model = payload.get("model") if isinstance(payload, dict) else None
        if not isinstance(payload, dict) or not isinstance(model, str):
            # Not a request we can route: the OpenAI upstream answers it, as it would have.
            return await self._forward(
                request, self.upstreams["openai"], "chat/completions", body, exchange
            )
        try:
            choice = self.router.route(model, request.headers.get(PROVIDER_HEADER))
        except RoutingError as exc:
            exchange.status_code = 400
            exchange.fail("error", "unknown_model", str(exc))
            exchange.response_body = error_body(
                str(exc), "unknown_model", type_="invalid_request_error"
            )
            return web.Response(
                status=400, body=exchange.response_body, content_type="application/json"
            )
        exchange.provider = choice.provider
        exchange.model = choice.model
        upstream = self.upstreams[choice.provider]
        adapter = adapter_for(choice.provider)
        if adapter is None:
            if choice.model != model:  # a routing prefix: the provider gets the bare name
                payload = {**payload, "model": choice.model}
                body = msgspec.json.encode(payload)
            tail, query = "chat/completions", request.query_string
            if choice.deployment is not None:
                tail = f"openai/deployments/{choice.deployment}/chat/completions"
                query = f"api-version={upstream.api_version}"
            return await self._forward(
                request,
                upstream,
                tail,
                body,
                exchange,
                query=query,
                credentials=None if choice.provider == "openai" else _client_key(request),
            )
        return await self._convert(request, upstream, payload, choice.model, exchange)

    async def _convert(
        self,
        request: web.Request,
        upstream: Upstream,
        payload: dict[str, Any],
        model: str,
        exchange: Exchange,
    ) -> web.StreamResponse:
        adapter = adapter_for(upstream.provider)
        assert adapter is not None
        exchange.route = "converted"
        exchange.adapter = adapter
        try:
            native = adapter.build_request(payload, model=model)
        except ProviderError as exc:
            return self._provider_error(exchange, exc)
        exchange.native_endpoint = native.path.split("?", 1)[0]
        exchange.native_request = native.body
        path, _, query = native.path.lstrip("/").partition("?")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(upstream.auth_headers(upstream.api_key or _client_key(request)))
        upstream_response = await self._send(
            request, upstream, path, query, msgspec.json.encode(native.body), headers, exchange
        )
        if isinstance(upstream_response, web.Response):
            return upstream_response
        exchange.status_code = upstream_response.status
        exchange.response_headers = redact_headers(
            upstream_response.headers.items(), "metadata.response_headers", exchange.redacted_fields
        )
        created = int(time.time())
        framing = _stream_framing(upstream_response.headers.get("Content-Type", ""))
        if upstream_response.status < 400 and native.stream and framing is not None:
            options = payload.get("stream_options")
            exchange.converter = adapter.stream_converter(
                model=model,
                created=created,
                include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            )
            return await self._relay_stream(
                request, upstream_response, exchange, "convert", framing
            )
        relayed = await self._read_body(upstream_response, exchange)
        if isinstance(relayed, web.Response):
            return relayed
        answer = decode_json(relayed)
        if upstream_response.status >= 400:
            error = adapter.convert_error(upstream_response.status, answer)
            return self._provider_error(exchange, error, record_status=False)
        try:
            exchange.converted_response = adapter.convert_response(
                answer, model=model, created=created
            )
        except Exception as exc:  # the provider sent what its adapter cannot read
            exchange.warnings.append(f"could not convert the provider's answer: {exc!r}")
            return self._proxy_error(
                exchange,
                502,
                "unconvertible_response",
                f"{upstream.provider} answered in a shape TraceForge cannot convert: {exc}",
            )
        return web.json_response(exchange.converted_response)

    # -- forwarding -------------------------------------------------------------------------

    async def _forward(
        self,
        request: web.Request,
        upstream: Upstream,
        tail: str,
        body: bytes,
        exchange: Exchange,
        *,
        query: str | None = None,
        credentials: str | None = None,
    ) -> web.StreamResponse:
        """Forward the client's request as is; relay the answer byte for byte.

        ``credentials``: the front door sent an OpenAI-format request to another
        OpenAI-compatible provider (xAI, Azure): the client's own key headers are replaced by
        the proxy's key for that provider, or else by the client's bearer key put in the
        provider's header (an OpenAI SDK cannot know which provider a model routes to).
        """
        request_json = exchange.request_json
        headers = upstream_request_headers(request.headers.items())
        if credentials is not None:
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
            headers.update(upstream.auth_headers(upstream.api_key or credentials))
        elif not any(k.lower() in CREDENTIAL_HEADERS for k in headers):
            headers.update(upstream.auth_headers())
        else:
            for name, value in upstream.auth_headers(key="").items():
                headers.setdefault(name, value)  # anthropic-version when the client sent none
        mode: RelayMode = "raw"
        if (
            upstream.inject_stream_usage
            and tail == "chat/completions"
            and isinstance(request_json, dict)
            and request_json.get("stream") is True
        ):
            options = request_json.get("stream_options")
            if not (isinstance(options, dict) and options.get("include_usage") is True):
                options = dict(options) if isinstance(options, dict) else {}
                options["include_usage"] = True
                body = msgspec.json.encode({**request_json, "stream_options": options})
                mode = "withhold_usage"
                exchange.warnings.append(
                    "stream_options.include_usage was added upstream to record usage; the "
                    "usage chunk was not forwarded to the client"
                )
        query = request.query_string if query is None else query
        upstream_response = await self._send(
            request, upstream, tail, query, body, headers, exchange
        )
        if isinstance(upstream_response, web.Response):
            return upstream_response
        exchange.status_code = upstream_response.status
        exchange.response_headers = redact_headers(
            upstream_response.headers.items(), "metadata.response_headers", exchange.redacted_fields
        )
        framing = _stream_framing(upstream_response.headers.get("Content-Type", ""))
        if framing is not None:
            if exchange.adapter is not None and upstream_response.status < 400:
                exchange.converter = exchange.adapter.stream_converter(
                    model=exchange.model, created=int(time.time()), include_usage=False
                )
            return await self._relay_stream(request, upstream_response, exchange, mode, framing)
        payload = await self._read_body(upstream_response, exchange)
        if isinstance(payload, web.Response):
            return payload
        response = web.Response(status=upstream_response.status, body=payload)
        for name, value in relayed_response_headers(upstream_response.headers.items()):
            response.headers.add(name, value)
        return response

    async def _send(
        self,
        request: web.Request,
        upstream: Upstream,
        tail: str,
        query: str,
        body: bytes,
        headers: dict[str, str],
        exchange: Exchange,
    ) -> aiohttp.ClientResponse | web.Response:
        """Send the request upstream; a :class:`web.Response` is the proxy's own error."""
        try:
            url = upstream.url_for(tail, query)
        except LookupError as exc:
            return self._proxy_error(exchange, 502, "upstream_not_configured", str(exc))
        exchange.upstream_url = url.split("?", 1)[0]
        exchange.request_headers = redact_headers(
            headers, "metadata.request_headers", exchange.redacted_fields
        )
        session = request.app[SESSION_KEY]
        exchange.sent_ns = time.perf_counter_ns()
        try:
            return await session.request(
                request.method,
                url,
                data=body or None,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except TimeoutError:
            return self._proxy_error(
                exchange,
                504,
                "upstream_timeout",
                f"upstream {exchange.upstream_url} did not answer within the configured timeouts",
            )
        except aiohttp.ClientError as exc:
            return self._proxy_error(
                exchange,
                502,
                "upstream_unreachable",
                f"could not reach upstream {exchange.upstream_url}: {exc}",
            )

    async def _read_body(
        self, upstream_response: aiohttp.ClientResponse, exchange: Exchange
    ) -> bytes | web.Response:
        try:
            payload = await upstream_response.read()
        except _UPSTREAM_FAILED as exc:
            upstream_response.close()
            timeout = isinstance(exc, asyncio.TimeoutError)
            return self._proxy_error(
                exchange,
                504 if timeout else 502,
                "upstream_timeout" if timeout else "upstream_disconnected",
                f"upstream {exchange.upstream_url} failed while sending its answer: "
                f"{exc or type(exc).__name__}",
            )
        finally:
            upstream_response.release()
        exchange.response_body = payload
        return payload

    def _proxy_error(
        self, exchange: Exchange, status: int, code: str, message: str
    ) -> web.Response:
        exchange.status_code = status
        exchange.fail("upstream_error", code, message)
        exchange.response_body = error_body(message, code)
        return web.Response(
            status=status, body=exchange.response_body, content_type="application/json"
        )

    def _provider_error(
        self, exchange: Exchange, error: ProviderError, *, record_status: bool = True
    ) -> web.Response:
        """Answer with a provider error in OpenAI's shape (the converted route)."""
        body = msgspec.json.encode(error.body)
        exchange.converted_response = error.body
        exchange.status_code = error.status
        if record_status:  # the proxy's own answer (a request it cannot convert)
            exchange.response_body = body
        return web.Response(status=error.status, body=body, content_type="application/json")

    async def _relay_stream(
        self,
        request: web.Request,
        upstream_response: aiohttp.ClientResponse,
        exchange: Exchange,
        mode: RelayMode,
        framing: Literal["sse", "ndjson"],
    ) -> web.StreamResponse:
        exchange.streaming = True
        response = web.StreamResponse(status=upstream_response.status)
        if mode == "convert":
            response.headers.update(_SSE_HEADERS)
        else:
            for name, value in relayed_response_headers(upstream_response.headers.items()):
                response.headers.add(name, value)
            response.headers["Cache-Control"] = "no-cache"
            response.headers["X-Accel-Buffering"] = "no"
        parser: SSEParser | NDJSONParser = NDJSONParser() if framing == "ndjson" else SSEParser()
        complete = False
        try:
            await response.prepare(request)
            async for data in upstream_response.content.iter_any():
                now = time.perf_counter_ns()
                events = parser.feed(data)
                if mode == "raw":
                    await response.write(data)
                    self._record(exchange, events, now)
                elif mode == "withhold_usage":
                    out = b"".join(
                        ev.raw
                        for ev in events
                        if not exchange.add_event(ev, now, withhold_usage_chunk=True)
                    )
                    if out:
                        await response.write(out)
                else:
                    out = self._converted(exchange, events, now)
                    if out:
                        await response.write(out)
                    if exchange.converter is not None and exchange.converter.error is not None:
                        break  # the provider's stream failed; the client got the error
            now = time.perf_counter_ns()
            rest = parser.close()
            if any(ev.data for ev in rest):
                exchange.warnings.append(
                    "the stream ended inside an event (no blank line or newline after it)"
                )
            if mode == "raw":
                self._record(exchange, rest, now)
            elif mode == "withhold_usage":
                for ev in rest:
                    kept = not exchange.add_event(ev, now, withhold_usage_chunk=True)
                    if kept and ev.raw:
                        await response.write(ev.raw)
            else:
                out = self._converted(exchange, rest, now)
                if exchange.converter is None or exchange.converter.error is None:
                    out += b"".join(_sse(c) for c in exchange.close_native_stream())
                    out += b"data: [DONE]\n\n"
                await response.write(out)
            complete = True
            exchange.finish()
            await response.write_eof()
        except _CLIENT_GONE as exc:
            if not complete:
                exchange.fail(
                    "client_disconnected",
                    "client_disconnected",
                    f"the client closed the connection mid-stream: {exc}",
                )
        except _UPSTREAM_FAILED as exc:
            timeout = isinstance(exc, asyncio.TimeoutError)
            exchange.fail(
                "upstream_error",
                "upstream_timeout" if timeout else "upstream_disconnected",
                f"upstream stream broke off after {exchange.chunks_received} chunks: "
                f"{exc or type(exc).__name__}",
            )
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

    @staticmethod
    def _record(exchange: Exchange, events: list[SSEEvent], now: int) -> None:
        if exchange.adapter is not None:
            for ev in events:
                exchange.add_native_event(ev, now)
        else:
            for ev in events:
                exchange.add_event(ev, now, withhold_usage_chunk=False)

    @staticmethod
    def _converted(exchange: Exchange, events: list[SSEEvent], now: int) -> bytes:
        return b"".join(
            _sse(chunk) for ev in events for chunk in exchange.add_native_event(ev, now)
        )


def _stream_framing(content_type: str) -> Literal["sse", "ndjson"] | None:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/event-stream":
        return "sse"
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        return "ndjson"
    return None


def _client_key(request: web.Request) -> str | None:
    """The key an OpenAI SDK client sent (``Authorization: Bearer <key>``), if any."""
    value = request.headers.get("Authorization", "")
    scheme, _, key = value.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def _decode_request(body: bytes) -> object:
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


def create_proxy_app(
    upstreams: Upstream | Mapping[str, Upstream],
    writer: TraceWriter,
    config: ProxyConfig | Config | None = None,
) -> web.Application:
    """Return the proxy's aiohttp application (routes: see the module docstring).

    Args:
        upstreams: every provider's upstream, or a single OpenAI upstream (then the other
            providers are unreachable and every model goes to it).
        writer: saves traces.
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
    handler = ProxyHandler(upstreams, Router(full), writer, proxy_config)
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
    app.router.add_route("*", "/v1/{tail:.*}", handler.handle_openai)
    app.router.add_route("*", "/passthrough/{provider}/{tail:.*}", handler.handle_native)
    app.router.add_route("*", "/{provider}/{tail:.*}", handler.handle_native)
    return app
