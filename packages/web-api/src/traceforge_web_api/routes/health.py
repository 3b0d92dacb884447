"""``GET /api/health``: liveness check that also proves the trace store is readable."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from traceforge_web_api.common import get_store, json_response


def health(request: Request) -> Response:
    """Return ``200 {"status": "ok", "traces": <number of stored traces>}``."""
    return json_response({"status": "ok", "traces": get_store(request).count()})


routes: list[BaseRoute] = [
    Route("/api/health", health, methods=["GET"], name="health"),
]
