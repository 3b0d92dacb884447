"""The capture proxy's request handler: reads a call, forwards it as
:func:`~traceforge_proxy.plan.plan_request` decides, relays the answer through
:mod:`~traceforge_proxy.relay` and fires the flow hooks (the routes and the app:
:mod:`traceforge_proxy.app`).

Relayed streams (``text/event-stream``, Ollama's ``application/x-ndjson``) are written to the
client read by read, as the upstream's bytes; events are framed and timed alongside, never
altered. While other calls are in flight, a stream the upstream sends in a burst is read at
most every ``proxy.stream_coalesce_ms`` (:meth:`~traceforge_proxy.upstream_pool.
PooledResponse.coalesce`): fewer, larger reads and writes for the same bytes. The only
bytes ever withheld are those of the usage-only chunk the proxy asked for on the client's
behalf (``stream_options.include_usage``).

Compressed answers: the upstream is asked for the codings the client accepts (limited to
``gzip`` and ``deflate``, which the proxy can decode). An answer relayed as is reaches the
client byte for byte, ``Content-Encoding`` kept; the proxy decodes its own copy, read by
read in 256 KiB pieces (large reads finished off the event loop), up to
:data:`~traceforge_proxy.bodies.RECORD_CAP` decoded bytes, for the trace. An answer the proxy
rewrites (converted, or withholding the usage chunk) is decoded whole and sent without
``Content-Encoding``.

Faults never lose the trace: a client that hangs up before the upstream answered cancels the
upstream request at once (checked every :data:`CLIENT_POLL_S` seconds) and is recorded
``client_disconnected``; a request body too deep to decode is forwarded untouched and
recorded cut at :data:`~traceforge_proxy.bodies.MAX_DEPTH` levels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Literal

import aiohttp
from aiohttp import web

from traceforge_proxy.bodies import (
    RECORD_CAP,
    BodyDecoder,
    decode_read,
    decode_request,
    decoder_for,
    read_whole,
)
from traceforge_proxy.errors import error_body
from traceforge_proxy.exchange import Exchange
from traceforge_proxy.grouping import read_grouping
from traceforge_proxy.headers import relayed_response_headers
from traceforge_proxy.hooks import Addons
from traceforge_proxy.models_list import ModelsLister, is_models_request
from traceforge_proxy.plan import (
    ClientRequest,
    Failure,
    ForwardingPlan,
    ProxyAnswer,
    plan_request,
)
from traceforge_proxy.relay import Relay, converted_answer, start_relay
from traceforge_proxy.routing import Router
from traceforge_proxy.transport import LiveSender, UpstreamResponse, UpstreamSender
from traceforge_proxy.upstream import Upstream
from traceforge_proxy.upstream_pool import PooledResponse
from traceforge_proxy.watch import ClientWatch
from traceforge_shared.config import ProxyConfig
from traceforge_shared.ids import new_trace_id, utc_timestamp

log = logging.getLogger("traceforge.proxy")

#: Client-side failures while writing to the client: it hung up.
_CLIENT_GONE = (ConnectionResetError, ConnectionError)

#: Upstream failures while reading its answer.
_UPSTREAM_FAILED = (aiohttp.ClientError, asyncio.TimeoutError)

SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)

#: Response header naming the trace a call is recorded as (``traceforge trace show <id>``).
TRACE_ID_HEADER = "X-TraceForge-Trace-Id"
TRACE_ID_KEY: web.RequestKey[str] = web.RequestKey("traceforge_trace_id", str)
#: Response headers the ``admit`` hooks added (``X-TraceForge-Budget``).
ADDED_HEADERS_KEY: web.RequestKey[tuple[tuple[str, str], ...]] = web.RequestKey(
    "traceforge_added_headers", tuple
)

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
        sender: how planned requests reach upstreams (default: the app's session).
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        router: Router,
        addons: Addons,
        config: ProxyConfig,
        sender: UpstreamSender | None = None,
    ) -> None:
        self.upstreams = dict(upstreams)
        #: sends planned requests (:mod:`traceforge_proxy.transport`; a cassette replays).
        self.sender: UpstreamSender = sender or LiveSender()
        self.router = router
        self.addons = addons
        self.config = config
        #: Calls whose ``response`` / ``error`` hook has not run yet (a call counts from
        #: the request's arrival until its trace is handed to the writer).
        self.calls_in_flight = 0
        self.models = ModelsLister(self.upstreams, router)
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.connect_timeout_s,
            sock_connect=config.connect_timeout_s,
            sock_read=config.read_timeout_s,
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``/v1/{tail}`` (chat completions routed by model; the rest to OpenAI),
        ``/{provider}/{tail}`` and ``/passthrough/{provider}/{tail}`` (relayed as is).

        The ``response`` / ``error`` hook runs once the answer was written: aiohttp writes a
        whole answer after this returns, so the hooks are called back on the loop's next turn
        (:meth:`_over`), never between the upstream's answer and the client's copy of it."""
        self.calls_in_flight += 1
        exchange: Exchange | None = None
        try:
            exchange, client = await self._exchange(request)
            return await self._handle(request, exchange, client)
        finally:
            if exchange is None:  # the request's body could not be read: nothing to record
                self.calls_in_flight -= 1
            else:
                exchange.end(time.perf_counter_ns())
                asyncio.get_running_loop().call_soon(self._over, exchange)

    def _over(self, exchange: Exchange) -> None:
        """The call is over and its answer written: the ``response`` or ``error`` hook."""
        try:
            if exchange.failed:
                self.addons.error(exchange)
            else:
                self.addons.response(exchange)
        finally:
            self.calls_in_flight -= 1

    async def _exchange(self, request: web.Request) -> tuple[Exchange, ClientRequest]:
        """Read the client's request: its :class:`Exchange` (the ``request`` hook fired) and
        what the planner reads.

        Raises:
            aiohttp's errors reading the body (the client hung up, the body is too large).
        """
        started = time.perf_counter_ns()
        timestamp = utc_timestamp()
        body = await request.read()
        payload, complete = decode_request(body)
        client = ClientRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=list(request.headers.items()),
            body=body,
            json=payload,
            provider=request.match_info.get("provider"),
            tail=request.match_info["tail"],
            json_complete=complete,
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
            request_cut=not complete,
        )
        request[TRACE_ID_KEY] = exchange.trace_id
        exchange.grouped(read_grouping(client.headers))
        self.addons.request(exchange)
        return exchange, client

    async def _handle(
        self, request: web.Request, exchange: Exchange, client: ClientRequest
    ) -> web.StreamResponse:
        try:
            try:
                if is_models_request(client):  # merged from every provider, not forwarded
                    plan: ForwardingPlan | ProxyAnswer = await self.models.answer(
                        client, request.app[SESSION_KEY]
                    )
                else:
                    plan = plan_request(client, self.router, self.upstreams)
            except Exception as exc:  # a request no planner case expected: answer, record
                log.exception("could not plan request %s", exchange.trace_id)
                message = f"TraceForge could not forward this request: {exc!r}"
                plan = ProxyAnswer(
                    500,
                    error_body(message, "proxy_error"),
                    failure=Failure("upstream_error", "proxy_error", message),
                )
            if isinstance(plan, ForwardingPlan) and self.addons.has("admit"):
                # Budgets: headers for the client, maybe the proxy's own answer instead.
                admission = self.addons.admit(exchange, client, plan)
                request[ADDED_HEADERS_KEY] = admission.headers
                if admission.answer is not None:
                    plan = admission.answer
            if isinstance(plan, ProxyAnswer):
                return self._answer(exchange, plan)
            return await self._forward(request, plan, exchange, client)
        except asyncio.CancelledError:
            exchange.client_gone(time.perf_counter_ns())
            raise

    def _answer(self, exchange: Exchange, answer: ProxyAnswer) -> web.Response:
        """The proxy answers itself."""
        exchange.answer(answer)
        self.addons.response_headers(exchange)
        return web.Response(
            status=answer.status,
            body=answer.body,
            headers={"Content-Type": answer.content_type, **dict(answer.headers)},
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
        self,
        request: web.Request,
        plan: ForwardingPlan,
        exchange: Exchange,
        client: ClientRequest,
    ) -> web.StreamResponse:
        """Send the planned request; relay the answer (a stream read by read)."""
        exchange.sending(plan, time.perf_counter_ns())
        session = request.app[SESSION_KEY]
        headers = {**plan.headers, "Accept-Encoding": plan.accept_encoding}
        watch = ClientWatch(request)
        try:
            sent = await self.sender.send(session, client, plan, exchange, headers, self.timeout)
        except _UPSTREAM_FAILED as exc:
            _upstream_failed(exchange, exc)
            return self._failed(exchange)
        except asyncio.CancelledError:
            if not watch.ours():
                raise
            exchange.client_gone(time.perf_counter_ns())
            return web.Response()  # nobody reads it
        finally:
            watch.stop()
        if isinstance(sent, ProxyAnswer):  # a cassette's replay miss
            return self._answer(exchange, sent)
        upstream_response = sent
        status, upstream_headers = upstream_response.status, upstream_response.headers
        created = int(time.time())  # dates the OpenAI objects converted from the answer
        exchange.headers_received(status, upstream_headers.items(), time.perf_counter_ns(), created)
        framing = plan.framing(status, upstream_headers.get("Content-Type", ""))
        # The client gets the upstream's bytes as they came (Content-Encoding kept) unless the
        # proxy writes its own: a converted answer, or a stream it withholds a chunk from.
        as_is = plan.mode != "convert" and (framing is None or plan.mode == "raw")
        encoding = upstream_headers.get("Content-Encoding")
        try:
            decoder = decoder_for(encoding, RECORD_CAP if as_is else None)
        except ValueError as exc:  # br, zstd (not asked for): relayed as is, not recorded
            exchange.warnings.append(f"{exc}; it was relayed as is and recorded undecoded")
            decoder, as_is = None, True
        keep_encoding = as_is and encoding is not None and encoding.lower() != "identity"
        if framing is not None:
            if isinstance(upstream_response, PooledResponse) and self.config.stream_coalesce_ms:
                upstream_response.coalesce(self.config.stream_coalesce_ms / 1000)
            chunk_hook = self._chunk_hook_active()
            relay = start_relay(plan, exchange, framing, status, created, keep_reads=not chunk_hook)
            response = web.StreamResponse(status=status)
            if plan.mode == "convert":
                response.headers.update(_SSE_HEADERS)
            else:
                for name, value in relayed_response_headers(upstream_headers.items()):
                    response.headers.add(name, value)
                response.headers["Cache-Control"] = "no-cache"
                response.headers["X-Accel-Buffering"] = "no"
                if keep_encoding and encoding is not None:
                    response.headers["Content-Encoding"] = encoding
            self.addons.response_headers(exchange)
            return await self._stream(
                request, upstream_response, response, relay, exchange, decoder, as_is, chunk_hook
            )
        watch = ClientWatch(request)
        try:
            payload, plain = await read_whole(upstream_response.content.iter_any(), decoder)
        except _UPSTREAM_FAILED as exc:
            upstream_response.close()
            _upstream_failed(exchange, exc)
            return self._failed(exchange)
        except asyncio.CancelledError:
            upstream_response.close()
            if not watch.ours():
                raise
            exchange.client_gone(time.perf_counter_ns())
            return web.Response()
        finally:
            watch.stop()
            upstream_response.release()
        exchange.body_received(plain, truncated=decoder is not None and decoder.capped)
        if decoder is not None and decoder.error is not None:
            exchange.warnings.append(decoder.error)
        if plan.mode == "convert":
            return self._answer(exchange, converted_answer(plan, status, plain, created))
        self.addons.response_headers(exchange)
        response = web.Response(status=status, body=payload)
        for name, value in relayed_response_headers(upstream_headers.items()):
            response.headers.add(name, value)
        if keep_encoding and encoding is not None:
            response.headers["Content-Encoding"] = encoding
        return response

    async def _stream(
        self,
        request: web.Request,
        upstream_response: UpstreamResponse,
        response: web.StreamResponse,
        relay: Relay,
        exchange: Exchange,
        decoder: BodyDecoder | None = None,
        as_is: bool = True,
        chunk_hook: bool = False,
    ) -> web.StreamResponse:
        """Pump the upstream's reads through ``relay`` to the client. With a ``decoder``
        the relay reads the decoded bytes; the client gets the upstream's own (``as_is``)
        or the relay's. ``chunk_hook``: fire the ``chunk`` hook for each stored chunk."""
        complete = False
        stored = 0
        try:
            await response.prepare(request)
            async for data in upstream_response.content.iter_any():
                if chunk_hook:
                    stored = exchange.chunks_stored
                now = time.perf_counter_ns()
                if decoder is None:
                    out = relay.feed(data, now)
                else:
                    plain = await decode_read(decoder, data)
                    out = relay.feed(plain, now) if plain or not decoder.capped else b""
                    if as_is:
                        out = data
                if out:
                    await response.write(out)
                if chunk_hook:
                    self._chunks(exchange, stored)
                if relay.done:
                    break  # the provider's stream failed; the client got the error
            if chunk_hook:
                stored = exchange.chunks_stored
            if decoder is not None:
                if decoder.capped:
                    exchange.warnings.append(
                        f"the stream was relayed whole, but only its first {decoder.decoded} "
                        "decoded bytes were recorded (too large to record)"
                    )
                if decoder.error is not None:
                    exchange.warnings.append(decoder.error)
                tail = relay.feed(decoder.finish(), time.perf_counter_ns())
                if not as_is and tail:
                    await response.write(tail)
            out = relay.close(time.perf_counter_ns())
            if out and not (as_is and decoder is not None):
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

    def _chunk_hook_active(self) -> bool:
        """Whether a ``chunk`` hook listens now: chunks are decoded on the event loop only
        then. An addon with a ``subscribers`` count (the live feed) listens while it has
        subscribers; any other ``chunk`` addon always."""
        if not self.addons.has("chunk"):
            return False
        return any(
            getattr(addon, "subscribers", 1)
            for addon in self.addons.addons
            if callable(getattr(addon, "chunk", None))
        )

    def _chunks(self, exchange: Exchange, stored: int) -> None:
        for index in range(stored, exchange.chunks_stored):
            self.addons.chunk(exchange, exchange.stored_chunk(index))


#: The app's :class:`ProxyHandler` (its ``calls_in_flight``, for draining).
HANDLER_KEY: web.AppKey[ProxyHandler] = web.AppKey("handler", ProxyHandler)
