"""A local OTLP/HTTP receiver that keeps what it is sent: the destination of export tests and
of ``bench/load.py --export`` (a stand-in for an OpenTelemetry Collector).

It answers ``POST /v1/traces`` and ``POST /v1/metrics`` as the OTLP/HTTP spec says
(https://opentelemetry.io/docs/specs/otlp/#otlphttp-response: 200 with an empty
``Export*ServiceResponse`` in protobuf) and decodes nothing itself:
:meth:`OtlpSink.trace_requests` and :meth:`OtlpSink.metric_requests` decode the bodies with
``opentelemetry-proto``. Gzip bodies are inflated.
"""

from __future__ import annotations

import gzip

from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["OtlpSink"]


class OtlpSink:
    """``async with OtlpSink() as url:`` serves on a free loopback port; ``url`` is the OTLP
    base URL (``http://127.0.0.1:<port>``) for ``export.otlp.endpoint``.

    Args:
        status: the HTTP status to answer with (e.g. 503 to see the exporter retry).

    Attributes:
        received: ``(path, content type, body bytes)`` of each request, in order.
    """

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, str, bytes]] = []
        app = web.Application()
        app.router.add_post("/v1/{signal}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append((request.path, request.content_type, body))
        return web.Response(body=b"", status=self.status, content_type="application/x-protobuf")

    def trace_requests(self) -> list[ExportTraceServiceRequest]:
        """Every ``/v1/traces`` body received, decoded."""
        out = []
        for path, _, body in self.received:
            if path == "/v1/traces":
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                out.append(request)
        return out

    def metric_requests(self) -> list[ExportMetricsServiceRequest]:
        """Every ``/v1/metrics`` body received, decoded."""
        out = []
        for path, _, body in self.received:
            if path == "/v1/metrics":
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                out.append(request)
        return out

    async def __aenter__(self) -> str:
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()
