"""Helpers for tests that record and replay cassettes (shipped, like
:mod:`traceforge_proxy.testing`, for every package's tests and the pytest plugin's).

- :func:`closed_port`: a loopback port nothing listens on.
- :func:`unreachable_upstreams`: every provider's upstream pointed at that closed port
  (inject-usage flags as for the mock, so plans are the same as when recording).
- :class:`SocketGuard`: fails any TCP connection except to allowed ports, and lists the
  attempts (proof that a replay reached no upstream).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from traceforge_proxy.upstream import MOCK_PREFIXES, Upstream, resolve_upstreams
from traceforge_shared.config import Config


def closed_port() -> int:
    """A loopback TCP port that was free a moment ago and has nothing listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_upstreams(config: Config | None = None) -> dict[str, Upstream]:
    """Every provider's upstream as the mock would be (same ``inject_stream_usage``), but
    at ``http://127.0.0.1:<closed port><mock prefix>``: a connection attempt is refused."""
    port = closed_port()
    resolved = resolve_upstreams(config or Config(), env={})
    return {
        name: dataclasses.replace(
            upstream, base_url=f"http://127.0.0.1:{port}{MOCK_PREFIXES.get(name, '')}", mock=False
        )
        for name, upstream in resolved.items()
    }


class SocketGuard:
    """Refuses TCP connections to any port but :attr:`allowed` (``OSError``), recording
    each attempt in :attr:`blocked` as ``(host, port)``. Use :func:`socket_guard`.

    Attributes:
        allowed: ports connections may go to (add the proxy's once it listens).
        blocked: the refused attempts, in order.
    """

    def __init__(self) -> None:
        self.allowed: set[int] = set()
        self.blocked: list[tuple[str, int]] = []


@contextmanager
def socket_guard() -> Iterator[SocketGuard]:
    """Patch ``socket.socket.connect`` (used by asyncio, so by aiohttp and httpx) for the
    block: connections to ports not in ``guard.allowed`` fail with ``ConnectionRefusedError``."""
    guard = SocketGuard()
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host, port = address[0], int(address[1])
            if port not in guard.allowed:
                guard.blocked.append((host, port))
                raise ConnectionRefusedError(f"socket guard: no connection to {host}:{port}")
        original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    try:
        yield guard
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
