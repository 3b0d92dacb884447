"""Put LLM calls under the current span: the grouping headers on every request of an HTTP
client.

Headers added to each request (docs/runs.md), computed when the request is sent:

- ``traceparent`` (and ``tracestate``) of the current span (W3C Trace Context,
  https://www.w3.org/TR/trace-context/): the proxy records the call as a child of that span,
  in that span's run; no current span, no header (the call starts a run of its own);
- ``X-TraceForge-Session-Id``, ``X-TraceForge-Tags``, ``X-TraceForge-Meta-<key>`` of the
  current :func:`traceforge.session` (the proxy keeps them off the upstream request).

A header the request already has (``extra_headers=`` of one call, another instrumentation's
``traceparent``) is left as it is.

How they get there: an httpx request event hook
(https://www.python-httpx.org/advanced/event-hooks/). The openai and anthropic SDKs send
every request through one httpx client (``httpx`` or its successor ``httpx2``, same API),
which :func:`instrument` hooks; their ``default_headers`` are fixed at construction, so they
cannot carry a per-request ``traceparent``. :func:`instrument_httpx`, :func:`httpx_hook` and
:func:`async_httpx_hook` do the same for any httpx client.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol, TypeVar

from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from traceforge.tracing_names import META_HEADER_PREFIX, SESSION_HEADER, TAGS_HEADER
from traceforge.tracing_session import current_session

__all__ = [
    "async_httpx_hook",
    "grouping_headers",
    "httpx_hook",
    "instrument",
    "instrument_httpx",
]

_PROPAGATOR = TraceContextTextMapPropagator()
#: Set on the hooks made here, so a client is never hooked twice.
_MARK = "_traceforge_hook"

C = TypeVar("C")


class _Request(Protocol):
    """What the hooks use of an ``httpx.Request`` (or ``httpx2.Request``)."""

    @property
    def headers(self) -> MutableMapping[str, str]: ...


def grouping_headers() -> dict[str, str]:
    """The headers a request sent now gets (see the module): ``{}`` outside any span and
    session."""
    headers: dict[str, str] = {}
    _PROPAGATOR.inject(headers)
    active = current_session()
    if active is not None:
        headers[SESSION_HEADER] = active.id
        if active.tags:
            headers[TAGS_HEADER] = ",".join(active.tags)
        for key, value in active.metadata.items():
            headers[META_HEADER_PREFIX + key] = value
    return headers


def _add_headers(request: _Request) -> None:
    for name, value in grouping_headers().items():
        if name not in request.headers:  # httpx headers: case-insensitive
            request.headers[name] = value


def httpx_hook() -> Callable[[Any], None]:
    """A request hook for a synchronous ``httpx.Client``:
    ``httpx.Client(event_hooks={"request": [traceforge.httpx_hook()]})``."""

    def traceforge_request_hook(request: Any) -> None:
        _add_headers(request)

    setattr(traceforge_request_hook, _MARK, True)
    return traceforge_request_hook


def async_httpx_hook() -> Callable[[Any], Awaitable[None]]:
    """A request hook for an ``httpx.AsyncClient`` (httpx awaits its hooks):
    ``httpx.AsyncClient(event_hooks={"request": [traceforge.async_httpx_hook()]})``."""

    async def traceforge_async_request_hook(request: Any) -> None:
        _add_headers(request)

    setattr(traceforge_async_request_hook, _MARK, True)
    return traceforge_async_request_hook


def instrument_httpx(client: C) -> C:
    """Add the request hook to an ``httpx.Client`` or ``httpx.AsyncClient`` (``httpx2`` too);
    hooking a client twice adds one hook.

    Returns:
        ``client`` itself.

    Raises:
        TypeError: ``client`` has no ``event_hooks`` (not an httpx client).
    """
    hooks = getattr(client, "event_hooks", None)
    send = getattr(type(client), "send", None)
    if not isinstance(hooks, dict) or send is None:
        raise TypeError(
            f"traceforge.instrument_httpx() takes an httpx.Client or httpx.AsyncClient, "
            f"got {type(client).__name__}"
        )
    request_hooks = list(hooks.get("request", []))
    if any(getattr(hook, _MARK, False) for hook in request_hooks):
        return client
    hook = async_httpx_hook() if inspect.iscoroutinefunction(send) else httpx_hook()
    client.event_hooks = {**hooks, "request": [*request_hooks, hook]}  # type: ignore[attr-defined]
    return client


def instrument(client: C) -> C:
    """Make an openai or anthropic client (``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI``,
    ``Anthropic``, ``AsyncAnthropic``, ...) send the grouping headers with every request, so
    its calls through the proxy nest under the current span. Copies made afterwards with
    ``client.with_options(...)`` share the hooked HTTP client.

    Returns:
        ``client`` itself.

    Raises:
        TypeError: ``client`` is not a client of those SDKs (no underlying httpx client).
    """
    http = getattr(client, "_client", None)
    if http is None or not isinstance(getattr(http, "event_hooks", None), dict):
        raise TypeError(
            "traceforge.instrument() takes an openai or anthropic client (OpenAI, AsyncOpenAI, "
            f"Anthropic, AsyncAnthropic, ...), got {type(client).__name__}; for an httpx "
            "client use traceforge.instrument_httpx()"
        )
    instrument_httpx(http)
    return client
