"""Helpers shared by the route modules: the store of a request, JSON bodies and responses.

Every response body is JSON encoded with msgspec; every error body is ``{"error": message}``
(plus extra keys for some errors, e.g. ``matches`` for an ambiguous id prefix). A route raises
:class:`ApiError` (or a subclass) and the application's handler renders it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from traceforge_shared.store import (
    AmbiguousTraceIdError,
    InvalidTraceIdError,
    StoreError,
    TraceNotFoundError,
    TraceSchemaError,
    TraceStore,
)

#: ``app.state`` attribute under which :func:`traceforge_web_api.create_app` keeps the store.
STORE_STATE_KEY = "store"

#: Largest request body accepted (config and test files are small).
MAX_BODY_BYTES = 1024 * 1024

T = TypeVar("T")

#: A route handler: sync (run in the thread pool) or async.
Handler = Callable[[Request], Response] | Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An error answer: ``status_code`` with body ``{"error": message, **extra}``."""

    def __init__(self, status_code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        """The JSON error response."""
        return error_response(self.status_code, self.message, **self.extra)


class QueryError(ApiError):
    """A query parameter with a value the API cannot use (``400``); the message says which
    and why."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def get_store(request: Request) -> TraceStore:
    """Return the :class:`TraceStore` the application was created with."""
    store = getattr(request.app.state, STORE_STATE_KEY)
    if not isinstance(store, TraceStore):  # pragma: no cover - create_app always sets it
        raise RuntimeError("the application has no trace store; build it with create_app()")
    return store


def get_home(request: Request) -> Path:
    """Return the TraceForge home of the application's store (``config.yaml``, ``tests/``)."""
    return get_store(request).home


def json_response(data: Any, status_code: int = 200) -> Response:
    """Return ``data`` (anything msgspec can encode: builtins, Structs) as a JSON response."""
    return Response(
        msgspec.json.encode(data), status_code=status_code, media_type="application/json"
    )


def error_response(status_code: int, message: str, **extra: Any) -> Response:
    """Return ``{"error": message, **extra}`` with ``status_code``."""
    return json_response({"error": message, **extra}, status_code)


def store_error(exc: StoreError) -> ApiError:
    """Map a store error to its answer: ``400`` id not hexadecimal, ``404`` no such trace,
    ``409`` ambiguous prefix (with ``matches``), ``422`` unreadable trace file."""
    if isinstance(exc, InvalidTraceIdError):
        return ApiError(400, str(exc))
    if isinstance(exc, AmbiguousTraceIdError):
        return ApiError(409, str(exc), matches=exc.matches)
    if isinstance(exc, TraceNotFoundError):
        return ApiError(404, str(exc))
    if isinstance(exc, TraceSchemaError):
        return ApiError(422, f"trace file cannot be read: {exc}")
    return ApiError(422, str(exc))  # pragma: no cover - no other StoreError exists


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Return the request body, refusing (``413``) one larger than ``limit`` bytes without
    reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body too large (more than {limit} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body too large (more than {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request) -> dict[str, Any]:
    """Return the request body parsed as a JSON object.

    Raises:
        ApiError: ``400`` the body is not JSON or not an object; ``413`` it is too large.
    """
    body = await read_body(request)
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"the request body must be JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def convert_body(data: dict[str, Any], kind: type[T]) -> T:
    """Convert a decoded JSON object to the body struct ``kind``; ``400`` with msgspec's
    message (which names the field) when it does not fit."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"invalid request body: {exc}") from None


def route(path: str, handlers: Mapping[str, Handler], *, name: str) -> Route:
    """One route for ``path`` serving each HTTP method with its handler.

    One route per path (not one per method) so that a method it lacks is answered ``405``
    with an ``Allow`` header listing every method of the path. ``HEAD`` is served by the
    ``GET`` handler.
    """

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        handler = handlers[method]
        if inspect.iscoroutinefunction(handler):
            return cast(Response, await handler(request))
        return cast(Response, await run_in_threadpool(handler, request))

    return Route(path, endpoint, methods=list(handlers), name=name)
