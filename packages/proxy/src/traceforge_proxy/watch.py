"""Noticing a client that hung up while the proxy waits for the upstream.

aiohttp tells a handler nothing about its client until the handler writes; while the proxy
waits for the upstream's headers (or reads a whole answer) a client that hangs up would keep
the upstream call open until ``read_timeout_s``. :class:`ClientWatch` polls the client's
transport and cancels the waiting handler task when it is gone.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

#: Seconds between two checks that the client is still there while the upstream has not
#: answered (aiohttp tells a handler nothing until it writes).
CLIENT_POLL_S = 0.1


class ClientWatch:
    """While the proxy waits for the upstream, checks every :data:`CLIENT_POLL_S` seconds
    that the client is still connected; when it is gone, cancels the waiting handler task
    (:attr:`gone` tells that cancellation from others). The handler awaits the upstream
    directly, so watching adds no step between the upstream's answer and its first read.
    The checks are event-loop timers (``call_later``), not a task: a call that ends before
    the first check costs one timer set and cancelled.
    """

    def __init__(self, request: web.Request) -> None:
        self.gone = False
        self._request = request
        self._handler = asyncio.current_task()
        loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = loop.call_later(CLIENT_POLL_S, self._check)

    def _check(self) -> None:
        transport = self._request.transport
        if transport is None or transport.is_closing():
            self.gone = True
            self._timer = None
            if self._handler is not None:
                self._handler.cancel()
            return
        self._timer = asyncio.get_running_loop().call_later(CLIENT_POLL_S, self._check)

    def ours(self) -> bool:
        """Whether a ``CancelledError`` just caught came from this watch (then it is
        absorbed: the handler goes on to record the call)."""
        if not self.gone or self._handler is None:
            return False
        self._handler.uncancel()
        return True

    def stop(self) -> None:
        """Stop watching."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
