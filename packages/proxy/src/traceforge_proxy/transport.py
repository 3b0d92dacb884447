"""How the handler reaches an upstream: the one place a planned request is sent.

:class:`PooledSender` (the proxy's default) sends it through the app's
:class:`~traceforge_proxy.upstream_pool.UpstreamPool`, and what the pool leaves to aiohttp
with the app's ``aiohttp`` session; :class:`LiveSender` sends everything with the session
(``TRACEFORGE_UPSTREAM_CLIENT=aiohttp``, offline replay). A cassette
(:class:`~traceforge_proxy.cassette_session.CassetteSession`) is another sender: it answers
from recordings with a socket-free :class:`UpstreamResponse`, or records what the live sender
got. Either way the answer then goes through the same relay, conversion and trace building
(:mod:`traceforge_proxy.server`).

:class:`OfflineConnector` is the connector of the app's session in offline replay: any
attempt to open a connection (a call the cassette does not answer, ``GET /v1/models``)
fails with :class:`NetworkBlocked`, so nothing reaches the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from multidict import CIMultiDictProxy

from traceforge_proxy.upstream_pool import UnsafeHeaderError, UpstreamPool, pool_request_target

if TYPE_CHECKING:
    from traceforge_proxy.exchange import Exchange
    from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer


class UpstreamBody(Protocol):
    """An answer's body: its reads as they arrive (``aiohttp.StreamReader`` is one)."""

    def iter_any(self) -> AsyncIterator[bytes]:
        """Each read, as soon as it is available."""
        ...


class UpstreamResponse(Protocol):
    """The upstream's answer as the handler reads it (``aiohttp.ClientResponse`` is one)."""

    @property
    def status(self) -> int:
        """HTTP status."""
        ...

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """Response headers."""
        ...

    @property
    def content(self) -> UpstreamBody:
        """The body."""
        ...

    def release(self) -> Any:
        """The body was read to the end (or is no longer wanted): free the connection."""
        ...

    def close(self) -> None:
        """Abandon the answer (the client left, the read failed)."""
        ...


class UpstreamSender(Protocol):
    """Sends a planned request; returns the upstream's answer or the proxy's own answer
    (a replay miss)."""

    async def send(
        self,
        session: aiohttp.ClientSession,
        client: ClientRequest,
        plan: ForwardingPlan,
        exchange: Exchange,
        headers: dict[str, str],
        client_timeout: aiohttp.ClientTimeout,
    ) -> UpstreamResponse | ProxyAnswer:
        """Send ``plan`` (with ``headers``: the plan's plus ``Accept-Encoding``).

        Raises:
            aiohttp.ClientError, asyncio.TimeoutError: the upstream could not be reached or
                timed out (the handler answers 502/504).
        """
        ...


class LiveSender:
    """Sends every request to its upstream with the app's session (the normal proxy)."""

    async def send(
        self,
        session: aiohttp.ClientSession,
        client: ClientRequest,
        plan: ForwardingPlan,
        exchange: Exchange,
        headers: dict[str, str],
        client_timeout: aiohttp.ClientTimeout,
    ) -> UpstreamResponse | ProxyAnswer:
        """See :meth:`UpstreamSender.send`."""
        return await session.request(
            plan.method,
            plan.url,
            data=plan.body or None,
            headers=headers,
            timeout=client_timeout,
            allow_redirects=False,
        )


class PooledSender(LiveSender):
    """Sends requests through ``pool`` (kept-alive connections, answers parsed by llhttp);
    what the pool does not send (:func:`~traceforge_proxy.upstream_pool.pool_request_target`:
    credentials in the URL, HEAD, a header with a line break) goes through the session, as
    :class:`LiveSender` sends it."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool

    async def send(
        self,
        session: aiohttp.ClientSession,
        client: ClientRequest,
        plan: ForwardingPlan,
        exchange: Exchange,
        headers: dict[str, str],
        client_timeout: aiohttp.ClientTimeout,
    ) -> UpstreamResponse | ProxyAnswer:
        """See :meth:`UpstreamSender.send`."""
        where = pool_request_target(plan.url, plan.method)
        if where is not None:
            try:
                return await self.pool.request(
                    plan.method, where[0], where[1], headers, plan.body, client_timeout
                )
            except UnsafeHeaderError:
                pass  # aiohttp refuses it as it always did
        return await super().send(session, client, plan, exchange, headers, client_timeout)


class NetworkBlocked(aiohttp.ClientConnectionError):
    """A connection was attempted while the proxy replays offline (``--mode replay`` with
    ``--on-miss error``)."""


class OfflineConnector(aiohttp.BaseConnector):
    """An aiohttp connector that never connects: every attempt raises
    :class:`NetworkBlocked` naming the host."""

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        raise NetworkBlocked(
            f"TraceForge is replaying a cassette offline: no connection to {req.url.host} "
            "is made (use --on-miss passthrough or --mode auto to reach upstreams)"
        )
