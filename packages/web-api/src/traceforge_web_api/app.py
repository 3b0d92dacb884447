"""The Starlette application of the TraceForge web API.

The API reads and deletes traces only through :class:`~traceforge_shared.store.TraceStore`;
it never touches trace files itself and does not depend on the proxy. Routes live in
:mod:`traceforge_web_api.routes` (one module per resource). Every error, including unknown
paths (404) and wrong methods (405), has a JSON body ``{"error": message}``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from traceforge_shared.store import TraceStore
from traceforge_web_api.common import STORE_STATE_KEY, error_response
from traceforge_web_api.routes import health, traces


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Render Starlette's own HTTP errors (404 no route, 405 wrong method) as JSON."""
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_app(store: TraceStore) -> Starlette:
    """Return the API application serving the traces of ``store``.

    Routes: ``GET /api/health``, ``GET /api/traces``, ``GET /api/traces/{id}``,
    ``DELETE /api/traces/{id}`` (see :mod:`traceforge_web_api.routes.traces` for the shapes
    and error codes).
    """
    app = Starlette(
        routes=[*health.routes, *traces.routes],
        exception_handlers={HTTPException: _http_exception},
    )
    setattr(app.state, STORE_STATE_KEY, store)
    return app
