"""Running the API inside another program's event loop (``traceforge start``)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator

import uvicorn

from traceforge_shared.store import TraceStore
from traceforge_web_api.app import create_app
from traceforge_web_api.feed import TraceFeed
from traceforge_web_api.routes.tests import TestRunner


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling (Ctrl-C) to the program embedding it.

    Stop it by setting ``should_exit = True`` and awaiting the ``serve()`` task.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers."""
        yield


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (0: any free port) for :meth:`EmbeddedServer.serve`.

    Raises:
        OSError: the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def embedded_server(
    store: TraceStore,
    *,
    token: str | None = None,
    test_runner: TestRunner | None = None,
    feed: TraceFeed | None = None,
    allowed_hosts: Iterable[str] = (),
    log_level: str = "warning",
) -> EmbeddedServer:
    """Return an :class:`EmbeddedServer` for the API over ``store``; serve it with
    ``await server.serve(sockets=[bind(host, port)])``.

    ``token``, ``test_runner``, ``feed`` and ``allowed_hosts`` are
    :func:`~traceforge_web_api.create_app`'s: a bearer token every request must carry, the
    runner of ``proxy`` mode test runs (run in a thread of its own, off this loop), what
    ``/api/events`` announces (in the proxy's process: ``TraceFeed(store, watch=False)``, also
    given to the proxy as an addon, see :func:`live_feed`), and the host names served besides
    the loopback ones.

    Raises:
        ValueError: as :func:`~traceforge_web_api.create_app`.
    """
    app = create_app(
        store, token=token, test_runner=test_runner, feed=feed, allowed_hosts=allowed_hosts
    )
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
    )
    return EmbeddedServer(config)


def live_feed(store: TraceStore) -> TraceFeed:
    """Return the feed of an API served in the capture proxy's process: pass it to the proxy
    as an addon (its ``saved`` hook announces each trace the proxy stores) and to
    :func:`embedded_server`. Nothing is watched."""
    return TraceFeed(store, watch=False)
