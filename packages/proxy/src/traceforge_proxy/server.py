"""The capture proxy: an aiohttp app forwarding ``/v1/*`` to the upstream and recording traces.

Streaming answers (``text/event-stream``) are relayed as the upstream's bytes, each read
written to the client as soon as it arrives; the SSE events are framed and timed alongside,
never altered. The only bytes ever withheld are those of the usage-only chunk the proxy asked
for on the client's behalf (``stream_options.include_usage``), so the client receives exactly
the stream it asked for.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import msgspec
from aiohttp import web

from traceforge_proxy.errors import error_body
from traceforge_proxy.exchange import Exchange
from traceforge_proxy.headers import (
    redact_headers,
    relayed_response_headers,
    upstream_request_headers,
)
from traceforge_proxy.sse import SSEParser
from traceforge_proxy.upstream import Upstream
from traceforge_proxy.writer import TraceWriter
from traceforge_shared.config import ProxyConfig
from traceforge_shared.ids import new_trace_id, utc_timestamp

log = logging.getLogger("traceforge.proxy")

#: Client-side failures while writing to the client: it hung up.
_CLIENT_GONE = (ConnectionResetError, ConnectionError)

#: Upstream failures while reading its answer.
_UPSTREAM_FAILED = (aiohttp.ClientError, asyncio.TimeoutError)

SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


class ProxyHandler:
    """Forwards requests to one :class:`Upstream` and hands each finished exchange to a
    :class:`TraceWriter`.

    Args:
        upstream: where to forward (its ``base_url`` must be set).
        writer: saves traces.
        config: timeouts, pool size, chunk cap.
    """

    def __init__(self, upstream: Upstream, writer: TraceWriter, config: ProxyConfig) -> None:
        self.upstream = upstream
        self.writer = writer
        self.config = config
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.connect_timeout_s,
            sock_connect=config.connect_timeout_s,
            sock_read=config.read_timeout_s,
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Forward one ``/v1/*`` request; always records a trace."""
        started = time.perf_counter_ns()
        timestamp = utc_timestamp()
        body = await request.read()
        tail = request.match_info["tail"]
        request_json = _decode_request(body)
        exchange = Exchange(
            trace_id=new_trace_id(),
            timestamp=timestamp,
            started_ns=started,
            method=request.method,
            endpoint=f"/v1/{tail}",
            provider=self.upstream.provider,
            request_body=body,
            request_json=request_json,
            chunk_cap=self.config.chunk_cap,
        )
        try:
            return await self._forward(request, tail, body, request_json, exchange)
        except asyncio.CancelledError:
            exchange.fail(
                "client_disconnected",
                "client_disconnected",
                "the client closed the connection before the answer was complete",
            )
            raise
        finally:
            exchange.finish()
            self.writer.submit(exchange)

    async def _forward(
        self, request: web.Request, tail: str, body: bytes, request_json: object, exchange: Exchange
    ) -> web.StreamResponse:
        upstream = self.upstream
        url = upstream.url_for(tail, request.query_string)
        exchange.upstream_url = url.split("?", 1)[0]
        headers = upstream_request_headers(request.headers.items())
        if upstream.api_key and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {upstream.api_key}"
        withhold_usage = False
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
                withhold_usage = True
                exchange.warnings.append(
                    "stream_options.include_usage was added upstream to record usage; the "
                    "usage chunk was not forwarded to the client"
                )
        exchange.request_headers = redact_headers(
            headers, "metadata.request_headers", exchange.redacted_fields
        )
        session = request.app[SESSION_KEY]
        exchange.sent_ns = time.perf_counter_ns()
        try:
            upstream_response = await session.request(
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
        exchange.status_code = upstream_response.status
        exchange.response_headers = redact_headers(
            upstream_response.headers.items(), "metadata.response_headers", exchange.redacted_fields
        )
        content_type = upstream_response.headers.get("Content-Type", "")
        if content_type.startswith("text/event-stream"):
            return await self._relay_stream(request, upstream_response, exchange, withhold_usage)
        return await self._relay_body(upstream_response, exchange)

    def _proxy_error(
        self, exchange: Exchange, status: int, code: str, message: str
    ) -> web.Response:
        exchange.status_code = status
        exchange.fail("upstream_error", code, message)
        exchange.response_body = error_body(message, code)
        return web.Response(
            status=status, body=exchange.response_body, content_type="application/json"
        )

    async def _relay_body(
        self, upstream_response: aiohttp.ClientResponse, exchange: Exchange
    ) -> web.StreamResponse:
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
        response = web.Response(status=upstream_response.status, body=payload)
        for name, value in relayed_response_headers(upstream_response.headers.items()):
            response.headers.add(name, value)
        return response

    async def _relay_stream(
        self,
        request: web.Request,
        upstream_response: aiohttp.ClientResponse,
        exchange: Exchange,
        withhold_usage: bool,
    ) -> web.StreamResponse:
        exchange.streaming = True
        response = web.StreamResponse(status=upstream_response.status)
        for name, value in relayed_response_headers(upstream_response.headers.items()):
            response.headers.add(name, value)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        parser = SSEParser()
        complete = False
        try:
            await response.prepare(request)
            async for data in upstream_response.content.iter_any():
                now = time.perf_counter_ns()
                events = parser.feed(data)
                if withhold_usage:
                    out = b"".join(
                        ev.raw
                        for ev in events
                        if not exchange.add_event(ev, now, withhold_usage_chunk=True)
                    )
                    if out:
                        await response.write(out)
                else:
                    await response.write(data)
                    for ev in events:
                        exchange.add_event(ev, now, withhold_usage_chunk=False)
            now = time.perf_counter_ns()
            rest = parser.close()
            for ev in rest:  # at most one: the unterminated tail
                if ev.data is not None:
                    exchange.warnings.append(
                        "the stream ended inside an SSE event (no blank line after its last line)"
                    )
                kept = not exchange.add_event(ev, now, withhold_usage_chunk=withhold_usage)
                if withhold_usage and kept and ev.raw:
                    await response.write(ev.raw)
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


def _decode_request(body: bytes) -> object:
    if not body:
        return None
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


def create_proxy_app(
    upstream: Upstream, writer: TraceWriter, config: ProxyConfig | None = None
) -> web.Application:
    """Return the proxy's aiohttp application.

    Routes: every method on ``/v1/{path}`` is forwarded to ``upstream`` and recorded;
    ``GET /healthz`` answers ``{"status": "ok"}``. The app owns one ``ClientSession`` (pool of
    ``config.max_connections`` upstream connections), closed with the app.
    """
    config = config or ProxyConfig()
    handler = ProxyHandler(upstream, writer, config)
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=config.max_connections)
        app[SESSION_KEY] = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, trust_env=False
        )
        yield
        await app[SESSION_KEY].close()

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "upstream": upstream.base_url})

    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/healthz", health)
    app.router.add_route("*", "/v1/{tail:.*}", handler.handle)
    return app
