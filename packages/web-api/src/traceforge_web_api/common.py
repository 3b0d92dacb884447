"""Helpers shared by the route modules: the store of a request and JSON responses.

Every response body is JSON encoded with msgspec; every error body is ``{"error": message}``
(plus extra keys for some errors, e.g. ``matches`` for an ambiguous id prefix).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from traceforge_shared.store import TraceStore

#: ``app.state`` attribute under which :func:`traceforge_web_api.create_app` keeps the store.
STORE_STATE_KEY = "store"


def get_store(request: Request) -> TraceStore:
    """Return the :class:`TraceStore` the application was created with."""
    store = getattr(request.app.state, STORE_STATE_KEY)
    if not isinstance(store, TraceStore):  # pragma: no cover - create_app always sets it
        raise RuntimeError("the application has no trace store; build it with create_app()")
    return store


def json_response(data: Any, status_code: int = 200) -> Response:
    """Return ``data`` (anything msgspec can encode: builtins, Structs) as a JSON response."""
    return Response(
        msgspec.json.encode(data), status_code=status_code, media_type="application/json"
    )


def error_response(status_code: int, message: str, **extra: Any) -> Response:
    """Return ``{"error": message, **extra}`` with ``status_code``."""
    return json_response({"error": message, **extra}, status_code)
