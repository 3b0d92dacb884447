"""The Starlette application of the TraceForge web API.

The API reads and writes traces only through :class:`~traceforge_shared.store.TraceStore`
and the shared modules (config loader, test loader, replay, results, diff, analytics); it
never touches trace files itself and does not depend on the proxy. Routes live in
:mod:`traceforge_web_api.routes` (one module per resource). Every error, including unknown
paths (404), wrong methods (405) and unexpected failures (500), has a JSON body
``{"error": message}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from traceforge_shared.store import TraceStore
from traceforge_web_api.auth import BearerTokenMiddleware
from traceforge_web_api.common import STORE_STATE_KEY, ApiError, error_response
from traceforge_web_api.feed import TraceFeed
from traceforge_web_api.routes import (
    analytics,
    config,
    diff,
    docs,
    events,
    export,
    health,
    openapi,
    otlp,
    runs,
    tests,
    traces,
)
from traceforge_web_api.routes.tests import RUNNER_STATE_KEY, TestRunner
from traceforge_web_api.security import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_QUERY_BYTES,
    HostAllowlist,
    RequestGuard,
)

logger = logging.getLogger(__name__)


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Render Starlette's own HTTP errors (404 no route, 405 wrong method) as JSON."""
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _api_error(request: Request, exc: Exception) -> Response:
    """Render an :class:`ApiError` raised by a route."""
    assert isinstance(exc, ApiError)
    return exc.response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug or an I/O failure: log it, answer ``500`` as JSON."""
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, f"internal error: {type(exc).__name__}: {exc}")


def create_app(
    store: TraceStore,
    *,
    token: str | None = None,
    test_runner: TestRunner | None = None,
    feed: TraceFeed | None = None,
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES,
) -> Starlette:
    """Return the API application serving ``store``'s home (traces, config, tests).

    Args:
        store: the trace store; its ``home`` also holds ``config.yaml`` and ``tests/``.
        token: when set, every request must carry ``Authorization: Bearer <token>``
            (``401`` otherwise). Required when the API listens beyond loopback.
        test_runner: runs tests through the capture proxy for ``POST /api/tests/run`` with
            ``"mode": "proxy"`` (``traceforge start`` passes one); without it such runs
            answer ``501``.
        feed: what ``/api/events`` announces. Default: a :class:`TraceFeed` watching
            ``store``'s directory. ``traceforge start`` passes ``TraceFeed(store,
            watch=False)``, which it also gives the proxy as a ``saved`` addon.
        allowed_hosts: host names the API answers to besides the loopback ones
            (``127.0.0.1``, ``localhost``, ``[::1]``; any port): ``api.allowed_hosts`` of
            ``config.yaml``. A request for another ``Host`` is ``421`` (DNS rebinding); a
            write from a web page whose ``Origin`` is not one of them is ``403``; a write
            with a body that is not ``application/json`` is ``415``. See
            :mod:`traceforge_web_api.security`.
        max_body_bytes: largest request body (``413`` above), bytes.
        max_query_bytes: largest query string (``414`` above), bytes.

    Routes: ``/api/health``, ``/api/traces`` (+ ``/diff``, ``/{id}``), ``/api/runs`` (+
    ``/{id}``), ``/api/sessions`` (+ ``/{id}``), ``/api/analytics``,
    ``/api/config``, ``/api/tests`` (+ ``/run``, ``/{name}``), ``/api/export``,
    ``/api/events``, ``/openapi.json``, ``/docs`` (its Redoc page), ``/v1/traces`` (OTLP/HTTP
    span ingest); see each module of :mod:`traceforge_web_api.routes` for the shapes and
    error codes.

    Raises:
        ValueError: ``token`` is the empty string, a name of ``allowed_hosts`` is not a host
            name, or a size limit is below 1.
    """
    if token is not None and not token:
        raise ValueError("the API token must not be empty")
    hosts = list(allowed_hosts)
    HostAllowlist(hosts)  # refuse a bad name now, not on the first request
    if max_body_bytes < 1 or max_query_bytes < 1:
        raise ValueError("size limits must be at least 1 byte")
    middleware = [
        Middleware(
            RequestGuard,
            allowed_hosts=hosts,
            max_body_bytes=max_body_bytes,
            max_query_bytes=max_query_bytes,
        )
    ]
    if token is not None:
        middleware.append(Middleware(BearerTokenMiddleware, token=token))
    app = Starlette(
        routes=[
            *health.routes,
            *diff.routes,  # /api/traces/diff before /api/traces/{id}
            *traces.routes,
            *runs.routes,
            *analytics.routes,
            *config.routes,
            *tests.routes,
            *export.routes,
            *events.routes,
            *openapi.routes,
            *docs.routes,
            *otlp.routes,
        ],
        middleware=middleware,
        exception_handlers={
            HTTPException: _http_exception,
            ApiError: _api_error,
            Exception: _unexpected,
        },
    )
    setattr(app.state, STORE_STATE_KEY, store)
    setattr(app.state, RUNNER_STATE_KEY, test_runner)
    setattr(app.state, events.FEED_STATE_KEY, feed if feed is not None else TraceFeed(store))
    setattr(app.state, openapi.SECURED_STATE_KEY, token is not None)
    setattr(app.state, otlp.LIMIT_STATE_KEY, max_body_bytes)
    return app
