"""Named hook points of the proxy, mitmproxy-addon style.

An *addon* is any object with some of the methods below; the proxy calls each one at its
moment, in the order the addons were given. An addon implements only the hooks it needs
(duck typing: :class:`Addons` looks the methods up once, when it is built).

On the event loop, for every call (``flow`` is the proxy's
:class:`~traceforge_proxy.exchange.Exchange`; keep these cheap, they sit on the request path):

- ``request(flow)``: the client's request was read (body, decoded JSON, endpoint).
- ``admit(flow, client, plan) -> Admission | None``: the call is planned and about to go
  upstream (``plan`` a :class:`~traceforge_proxy.plan.ForwardingPlan`, ``client`` the
  :class:`~traceforge_proxy.plan.ClientRequest`). An :class:`Admission` adds response headers
  and may carry the proxy's own answer instead (the upstream is then never called; the call
  is recorded like the proxy's other answers). Budgets plug in here.
- ``response_headers(flow)``: the upstream answered: ``flow.status_code`` and
  ``flow.response_headers`` are set (also fired for the proxy's own error answers).
- ``chunk(flow, chunk)``: one stream chunk was recorded (:class:`StreamChunk`: its index,
  arrival offset in ms, decoded data); fired for stored chunks only (``proxy.chunk_cap``).
- ``response(flow)``: the call ended with a whole answer relayed (any HTTP status).
- ``error(flow)``: the call failed: the proxy answered with its own error (unknown model
  or provider, a request the provider's adapter cannot express, no upstream address), the
  upstream failed, timed out or hung up, or the client hung up. ``flow.error`` says which.
  An upstream's own HTTP error answer (a 429 relayed as is) is a ``response``.

Exactly one of ``response`` and ``error`` fires per call, after which the flow is final. It
fires on the event loop's turn after the handler finished, so once the answer was written
to the client (a whole answer too: aiohttp writes it after the handler returns).

In the trace writer's thread, once the call is over:

- ``before_save(trace) -> Trace``: may rewrite the trace before it touches disk. Redaction
  of secrets and PII plugs in here, first, so no other addon sees an unredacted trace;
  whatever the last one returns is what is stored.
- ``saved(trace)``: the (redacted) trace is on disk. Live feeds and the test runner listen
  here. An addon whose ``saved`` reads only the trace's head (id, timestamp, provider,
  model, endpoint, metadata, route, grouping, span: not ``request``, ``response``,
  ``chunks`` or ``native``) says so with a class attribute ``saved_head_only = True``; when
  every ``saved`` addon of a proxy does, a writer process sends back only the head
  (:func:`trace_head`), which the proxy decodes in microseconds instead of a whole stream.

An addon that raises is logged and skipped for that call; the call and the trace go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import msgspec

from traceforge_shared.trace import StreamChunk, Trace

if TYPE_CHECKING:
    from traceforge_proxy.exchange import Exchange
    from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer

log = logging.getLogger("traceforge.proxy")

#: Hook names, in the order they fire during one call.
FLOW_HOOKS = ("request", "admit", "response_headers", "chunk", "response", "error")
#: Hooks fired in the writer's thread.
TRACE_HOOKS = ("before_save", "saved")
HOOKS = FLOW_HOOKS + TRACE_HOOKS


class Admission(NamedTuple):
    """What an ``admit`` hook decided for a call about to go upstream.

    Attributes:
        headers: (name, value) pairs added to the response the client gets.
        answer: the proxy's own answer instead of forwarding (``None``: forward).
    """

    headers: tuple[tuple[str, str], ...] = ()
    answer: ProxyAnswer | None = None


@runtime_checkable
class BeforeSave(Protocol):
    """An addon that may rewrite a trace before it is saved."""

    def before_save(self, trace: Trace) -> Trace:
        """Return the trace to store (the same object, changed, or a new one)."""
        ...


@runtime_checkable
class Saved(Protocol):
    """An addon told of each trace once it is on disk."""

    def saved(self, trace: Trace) -> None:
        """Called in the writer's thread with the stored (redacted) trace."""
        ...


def trace_head(trace: Trace) -> Trace:
    """``trace`` without its bodies: ``request``, ``response`` and ``native`` ``None``,
    ``chunks`` empty; everything else (ids, times, metadata with usage and cost, route,
    grouping, span) as is. What ``saved_head_only`` addons are given by a writer process."""
    return msgspec.structs.replace(trace, request=None, response=None, chunks=[], native=None)


class Addons:
    """Calls the addons' hooks. Built once per proxy; the method look-ups are done here, so
    a hook no addon implements costs one empty loop.

    Args:
        addons: objects with some of the methods named in :data:`HOOKS`.
    """

    def __init__(self, addons: Sequence[object] = ()) -> None:
        self.addons = list(addons)
        self._hooks: dict[str, list[Callable[..., Any]]] = {
            name: [getattr(a, name) for a in self.addons if callable(getattr(a, name, None))]
            for name in HOOKS
        }

    def has(self, name: str) -> bool:
        """Whether any addon implements hook ``name``."""
        return bool(self._hooks[name])

    def saved_head_only(self) -> bool:
        """Whether every ``saved`` addon reads only the trace's head (``saved_head_only``;
        see the module docstring)."""
        return all(
            getattr(a, "saved_head_only", False) is True
            for a in self.addons
            if callable(getattr(a, "saved", None))
        )

    def _fire(self, name: str, *args: Any) -> None:
        for hook in self._hooks[name]:
            try:
                hook(*args)
            except Exception:
                log.exception("addon hook %s failed", name)

    def request(self, flow: Exchange) -> None:
        """Fire ``request``."""
        self._fire("request", flow)

    def admit(self, flow: Exchange, client: ClientRequest, plan: ForwardingPlan) -> Admission:
        """Fire ``admit``: every addon's headers, and the first answer one gives (the
        addons after it are not asked)."""
        headers: list[tuple[str, str]] = []
        for hook in self._hooks["admit"]:
            try:
                admission = hook(flow, client, plan)
            except Exception:
                log.exception("addon hook admit failed")
                continue
            if admission is None:
                continue
            headers.extend(admission.headers)
            if admission.answer is not None:
                return Admission(tuple(headers), admission.answer)
        return Admission(tuple(headers))

    def response_headers(self, flow: Exchange) -> None:
        """Fire ``response_headers``."""
        self._fire("response_headers", flow)

    def chunk(self, flow: Exchange, chunk: StreamChunk) -> None:
        """Fire ``chunk``."""
        self._fire("chunk", flow, chunk)

    def response(self, flow: Exchange) -> None:
        """Fire ``response``."""
        self._fire("response", flow)

    def error(self, flow: Exchange) -> None:
        """Fire ``error``."""
        self._fire("error", flow)

    def before_save(self, trace: Trace) -> Trace:
        """Run every ``before_save`` hook in order and return the trace to store.

        Unlike the other hooks, an exception here propagates: a redactor that failed must
        not let the unredacted trace through (the writer then drops the trace and logs it).
        """
        for hook in self._hooks["before_save"]:
            trace = hook(trace)
        return trace

    def saved(self, trace: Trace) -> None:
        """Fire ``saved``."""
        self._fire("saved", trace)
