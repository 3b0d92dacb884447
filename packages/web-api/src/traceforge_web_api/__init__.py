"""TraceForge web API: a Starlette REST API over the shared trace store.

Use :func:`create_app` to get the ASGI application (e.g. for tests or another server) and
:func:`serve` to run it with uvicorn until interrupted.
"""

from __future__ import annotations

from collections.abc import Iterable

import uvicorn

from traceforge_shared.store import TraceStore
from traceforge_web_api.app import create_app
from traceforge_web_api.routes.tests import TestRunner

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TestRunner", "create_app", "serve"]

#: Where :func:`serve` listens by default: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001


def serve(
    store: TraceStore,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Serve the API for ``store`` on ``host:port``; blocks until the server stops (Ctrl+C).

    ``token``: require ``Authorization: Bearer <token>`` on every request (see
    :func:`create_app`); needed when ``host`` is not a loopback address. ``allowed_hosts``:
    host names served besides the loopback ones (``421`` for others; see
    :mod:`traceforge_web_api.security`).

    Raises:
        SystemExit: uvicorn could not start (e.g. the port is in use); uvicorn logs why.
    """
    app = create_app(store, token=token, allowed_hosts=allowed_hosts)
    config = uvicorn.Config(app, host=host, port=port, log_level="info")
    uvicorn.Server(config).run()
