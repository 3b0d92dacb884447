"""The forwarding plan of one call: where it goes and how, decided before any I/O.

:func:`plan_request` takes the client's request, the :class:`~traceforge_proxy.routing.Router`
and the upstreams and returns either a :class:`ForwardingPlan` (what to send where, and how to
relay the answer) or a :class:`ProxyAnswer` (the proxy answers itself: unknown model or
provider, a request the provider's adapter cannot express, an upstream without an address).
Pure: no network, no clock, no disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import msgspec

from traceforge_proxy.bodies import accept_encoding, rewrite_top_level
from traceforge_proxy.errors import error_body
from traceforge_proxy.headers import upstream_request_headers
from traceforge_proxy.providers import (
    ProviderAdapter,
    ProviderError,
    adapter_for,
    native_chat_model,
)
from traceforge_proxy.providers.embeddings import (
    EMBEDDING_PROVIDERS,
    EmbeddingsAdapter,
    native_embedding,
)
from traceforge_proxy.providers.params import drop_unsupported, dropped_warning
from traceforge_proxy.routing import PROVIDER_HEADER, RouteChoice, Router, RoutingError
from traceforge_proxy.upstream import CREDENTIAL_HEADERS, OPENAI_COMPATIBLE, Upstream
from traceforge_shared.config import PROVIDERS

#: How the answer's stream is relayed: the upstream's bytes as read, the same minus the usage
#: chunk the proxy asked for, or OpenAI chunks converted from the provider's events.
RelayMode = Literal["raw", "withhold_usage", "convert"]
#: The route a trace records (see ``traceforge_shared.trace.ROUTES``).
Route = Literal["openai", "converted", "passthrough"]
#: How a stream is framed: Server-Sent Events or newline-delimited JSON.
Framing = Literal["sse", "ndjson"]

USAGE_WARNING = (
    "stream_options.include_usage was added upstream to record usage; the usage chunk was "
    "not forwarded to the client"
)


class Failure(NamedTuple):
    """Why a call failed: trace status (``error``, ``upstream_error``,
    ``client_disconnected``), error type (``unknown_model``, ``upstream_timeout``, ...) and a
    message for people."""

    status: str
    type: str
    message: str


@dataclass(frozen=True)
class ClientRequest:
    """The client's request as the proxy received it.

    Attributes:
        method: HTTP method.
        path: the proxy path (``/v1/chat/completions``, ``/anthropic/v1/messages``).
        provider: the ``{provider}`` of ``/{provider}/...`` and ``/passthrough/{provider}/...``
            paths; ``None`` for ``/v1/...``.
        tail: the rest of the path after ``/v1/`` or ``{provider}/`` (no leading ``/``).
        query: the query string, without ``?``.
        headers: header (name, value) pairs as received (repeated names kept).
        body: the body bytes.
        json: the decoded body (``None`` if empty or not JSON).
        json_complete: ``False`` when ``json`` is a view cut at the depth limit (a body
            nested too deep to decode whole): its top-level fields are right, deeper parts
            are placeholders, so it may be read but never sent.
    """

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    json: Any
    provider: str | None = None
    tail: str = ""
    json_complete: bool = True

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        lower = name.lower()
        return next((v for n, v in self.headers if n.lower() == lower), None)

    def bearer_key(self) -> str | None:
        """The key an OpenAI SDK client sent (``Authorization: Bearer <key>``), if any."""
        scheme, _, key = (self.header("Authorization") or "").partition(" ")
        return key.strip() or None if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class Target:
    """Where a call went, as its trace records it.

    Attributes:
        provider: provider name.
        model: the model sent to the provider (routing prefix removed); ``None``: the one the
            request names.
        route: ``openai``, ``converted`` or ``passthrough``.
        adapter: the provider's adapter (converted route, and passthrough chat calls).
        native_endpoint: the provider's chat path (``/v1/messages``), when converted or
            normalized.
        native_request: converted route: the body sent to the provider.
    """

    provider: str
    model: str | None = None
    route: Route = "openai"
    adapter: ProviderAdapter | None = None
    native_endpoint: str | None = None
    native_request: Any = None


@dataclass(frozen=True)
class ForwardingPlan:
    """What to send upstream and how to relay the answer.

    Attributes:
        target: where the call goes.
        method: HTTP method to send.
        url: full upstream URL, query included.
        headers: headers to send, credentials included.
        body: body bytes to send (``b""``: none).
        mode: relay mode when the answer is a stream (``convert``: the converted route).
        stream: converted route: the provider was asked for a stream.
        include_usage: converted route: the client asked for the usage chunk.
        warnings: notes for the trace (the injected ``include_usage``).
        accept_encoding: the ``Accept-Encoding`` to send: the client's, limited to what the
            proxy can decode for its trace (``gzip``, ``deflate``), when the answer may be
            relayed as is; ``identity`` when the proxy writes its own (converted) answer.
    """

    target: Target
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    mode: RelayMode = "raw"
    stream: bool = False
    include_usage: bool = False
    warnings: tuple[str, ...] = ()
    accept_encoding: str = "identity"

    @property
    def upstream_url(self) -> str:
        """The upstream URL without its query (what the trace records)."""
        return self.url.split("?", 1)[0]

    def framing(self, status: int, content_type: str) -> Framing | None:
        """How to relay an answer with this status and ``Content-Type``: its stream framing,
        or ``None`` to read and answer it whole. The converted route relays a stream only
        when it asked for one and the provider did not answer with an error."""
        framing = stream_framing(content_type)
        if self.mode == "convert" and (status >= 400 or not self.stream):
            return None
        return framing


@dataclass(frozen=True)
class ProxyAnswer:
    """An answer the proxy writes itself, in place of (or converted from) the upstream's.

    Attributes:
        status: HTTP status.
        body: body bytes (JSON).
        content_type: its ``Content-Type`` header.
        failure: the failure to record, if the call failed.
        converted: converted route: the OpenAI answer (or error) object the client got.
        target: where the call was going (``None``: as already recorded).
        keeps_upstream_body: the trace keeps the upstream's body, not this one.
        warnings: notes for the trace.
        headers: more response headers (``X-TraceForge-Replay-Miss``).
    """

    status: int
    body: bytes
    content_type: str = "application/json"
    failure: Failure | None = None
    converted: Any = None
    target: Target | None = None
    keeps_upstream_body: bool = False
    warnings: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


def proxy_error(
    status: int,
    code: str,
    message: str,
    *,
    target: Target | None = None,
    warnings: tuple[str, ...] = (),
) -> ProxyAnswer:
    """The proxy's own error answer (OpenAI-shaped body), recorded as ``upstream_error``."""
    return ProxyAnswer(
        status,
        error_body(message, code),
        failure=Failure("upstream_error", code, message),
        target=target,
        warnings=warnings,
    )


def provider_error(error: ProviderError, *, target: Target | None = None) -> ProxyAnswer:
    """A provider error in OpenAI's shape, sent as the answer (converted route)."""
    return ProxyAnswer(
        error.status, msgspec.json.encode(error.body), converted=error.body, target=target
    )


def stream_framing(content_type: str) -> Framing | None:
    """The framing of a ``Content-Type`` (``text/event-stream``: SSE; NDJSON types), or
    ``None`` when it is not a stream."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/event-stream":
        return "sse"
    if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        return "ndjson"
    return None


def plan_request(
    request: ClientRequest, router: Router, upstreams: Mapping[str, Upstream]
) -> ForwardingPlan | ProxyAnswer:
    """Decide where ``request`` goes.

    ``/v1/chat/completions`` (POST) is routed by model name, and so are ``/v1/responses``
    calls (:mod:`traceforge_proxy.responses_plan`); other ``/v1/...`` paths go to OpenAI as
    they are; ``/{provider}/...`` and ``/passthrough/{provider}/...`` (a
    ``request.provider``) go to that provider as they are.

    Args:
        request: the client's request.
        router: model-name routing.
        upstreams: provider name → upstream, for every provider.

    Returns:
        the plan, or the proxy's own answer (400 unknown model, 404 unknown provider, a
        provider's 400 for a request its adapter cannot express, 502 upstream without
        address).
    """
    tail = request.tail
    if request.provider is None:
        if tail == "chat/completions" and request.method == "POST":
            return _chat_completions(request, router, upstreams)
        if tail == "embeddings" and request.method == "POST":
            return _embeddings(request, router, upstreams)
        if tail == "responses" or tail.startswith("responses/"):
            from traceforge_proxy.responses_plan import plan_responses  # imports this module

            return plan_responses(request, router, upstreams)
        return _forward_as_is(request, upstreams["openai"], tail, Target("openai"))
    provider = request.provider.lower()
    if provider not in PROVIDERS:
        return proxy_error(
            404,
            "unknown_provider",
            f"unknown provider {provider!r} in {request.path}; known: {', '.join(PROVIDERS)}",
        )
    if provider in OPENAI_COMPATIBLE and tail.startswith("v1/"):
        tail = tail[3:]  # their base URLs already end in /v1
    model = native_chat_model(provider, tail, request.json)
    if model is None:
        target = _native_other(provider, tail, request.json)
    else:
        model = _without_prefix(model, provider)
        target = Target(provider, model, "passthrough", adapter_for(provider), "/" + tail)
    return _forward_as_is(request, upstreams[provider], tail, target)


def _without_prefix(model: str, provider: str) -> str:
    """``model`` without a ``provider/`` routing prefix naming ``provider`` itself."""
    prefix, sep, rest = model.partition("/")
    return rest if sep and rest and prefix.lower() == provider else model


def _forward_as_is(
    request: ClientRequest, upstream: Upstream, tail: str, target: Target
) -> ForwardingPlan | ProxyAnswer:
    """Forward to ``upstream`` as is, except a routing prefix naming that provider
    (``openai/gpt-4o`` on ``/v1/responses``), removed from the body's top-level ``model``."""
    payload = request.json
    model = payload.get("model") if isinstance(payload, dict) else None
    changes: dict[str, Any] = {}
    if isinstance(model, str) and _without_prefix(model, upstream.provider) != model:
        changes["model"] = _without_prefix(model, upstream.provider)
        if target.route == "openai":
            target = Target(target.provider, changes["model"])
    return _forward(request, upstream, tail, target, changes=changes)


class Routed(NamedTuple):
    """A request routed by its model (:func:`route_by_model`).

    Attributes:
        payload: the decoded request body (a JSON object).
        model: the ``model`` the client sent (routing prefix included).
        choice: where it goes (provider, bare model, Azure deployment).
        upstream: the upstream to send it to (the ``--upstream`` one for a model routed there).
    """

    payload: dict[str, Any]
    model: str
    choice: RouteChoice
    upstream: Upstream


def route_by_model(
    request: ClientRequest,
    router: Router,
    upstreams: Mapping[str, Upstream],
    endpoint: str,
    *,
    param: str | None = None,
) -> Routed | ForwardingPlan | ProxyAnswer:
    """Route an OpenAI-format call (chat completions, embeddings, Responses) by its ``model``
    and the ``X-TraceForge-Provider`` header.

    Args:
        endpoint: the OpenAI endpoint (``chat/completions``): a body that is not a JSON object
            with a string ``model`` cannot be routed and goes to the OpenAI upstream there as
            is (it answers as it would have).
        param: ``error.param`` of the unknown-model answer (the Responses API names it).

    Returns:
        the routed request, the plan forwarding an unroutable one as is, or the proxy's 400
        ``unknown_model`` answer in OpenAI's error shape.
    """
    payload = request.json
    model = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(model, str):
        return _forward_as_is(request, upstreams["openai"], endpoint, Target("openai"))
    try:
        choice = router.route(model, request.header(PROVIDER_HEADER))
    except RoutingError as exc:
        body = error_body(str(exc), "unknown_model", type_="invalid_request_error", param=param)
        return ProxyAnswer(400, body, failure=Failure("error", "unknown_model", str(exc)))
    upstream = upstreams[choice.upstream or choice.provider]  # --upstream: "openai"
    return Routed(payload, model, choice, upstream)


def forward_compatible(
    request: ClientRequest, routed: Routed, endpoint: str
) -> ForwardingPlan | ProxyAnswer:
    """Forward an OpenAI-format call to an OpenAI-compatible provider (OpenAI, xAI, Azure, an
    ``--upstream`` address) at ``endpoint`` (``chat/completions``, ``embeddings``,
    ``responses``): the bare model name replaces a routing prefix; for Azure the deployment's
    path and ``api-version`` (its Responses API takes the deployment as ``model`` at
    ``/openai/responses``: https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses);
    credentials replaced for providers other than OpenAI (see :func:`_forward`)."""
    choice, upstream = routed.choice, routed.upstream
    changes: dict[str, Any] = {"model": choice.model} if choice.model != routed.model else {}
    tail, query = endpoint, request.query
    if choice.deployment is not None:
        query = f"api-version={upstream.api_version}"
        if endpoint == "responses":
            tail, changes = "openai/responses", {"model": choice.deployment}
        else:
            tail = f"openai/deployments/{choice.deployment}/{endpoint}"
    return _forward(
        request,
        upstream,
        tail,
        Target(choice.provider, choice.model),
        changes=changes,
        query=query,
        credentials=None if choice.provider == "openai" else request.bearer_key(),
    )


def _chat_completions(
    request: ClientRequest, router: Router, upstreams: Mapping[str, Upstream]
) -> ForwardingPlan | ProxyAnswer:
    routed = route_by_model(request, router, upstreams, "chat/completions")
    if not isinstance(routed, Routed):
        return routed
    payload, choice, upstream = routed.payload, routed.choice, routed.upstream
    adapter = adapter_for(choice.provider)
    if adapter is not None:
        if not request.json_complete:
            message = (
                f"the request is nested too deep to convert for {choice.provider}; "
                "send it to the provider's own API (/{provider}/...) to have it relayed as is"
            )
            return ProxyAnswer(
                400,
                error_body(message, "request_too_deep", type_="invalid_request_error"),
                failure=Failure("error", "request_too_deep", message),
                target=Target(choice.provider, choice.model, "converted", adapter),
            )
        drop = router.unsupported_params == "drop"
        return _convert(request, upstream, adapter, payload, choice.model, drop=drop)
    return forward_compatible(request, routed, "chat/completions")


#: Gemini methods other than chat whose path names the model (``models/{model}:countTokens``).
_GEMINI_MODEL_METHOD = re.compile(r"v1(?:beta|alpha)?/models/(?P<model>[^/:]+):\w+")


def _native_other(provider: str, tail: str, body: Any) -> Target:
    """The passthrough target of a native call that is not chat: an embeddings call gets the
    embeddings adapter (its trace has the OpenAI view), a Gemini ``models/{model}:method``
    call its model; anything else the provider alone."""
    embedding = native_embedding(provider, tail, body)
    if embedding is not None:
        model, texts = embedding
        adapter = EmbeddingsAdapter(provider, tuple(texts), chat=adapter_for(provider))
        return Target(provider, model or None, "passthrough", adapter, "/" + tail)
    if provider == "gemini" and (match := _GEMINI_MODEL_METHOD.fullmatch(tail)) is not None:
        return Target(provider, match["model"], "passthrough")
    return Target(provider, route="passthrough")


def _embeddings(
    request: ClientRequest, router: Router, upstreams: Mapping[str, Upstream]
) -> ForwardingPlan | ProxyAnswer:
    """``POST /v1/embeddings``, routed by model like chat completions: OpenAI-compatible
    providers get it as is; Gemini, Ollama and Cohere get it converted
    (:mod:`traceforge_proxy.providers.embeddings`); Anthropic (no embeddings API) a 400."""
    routed = route_by_model(request, router, upstreams, "embeddings")
    if not isinstance(routed, Routed):
        return routed
    payload, model, choice, upstream = routed
    if choice.provider in EMBEDDING_PROVIDERS:
        raw = payload.get("input")
        texts = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        encoding = "base64" if payload.get("encoding_format") == "base64" else "float"
        adapter = EmbeddingsAdapter(
            choice.provider,
            tuple(text for text in texts if isinstance(text, str)),
            encoding,
            chat=adapter_for(choice.provider),
        )
        return _convert(request, upstream, adapter, payload, choice.model)
    if adapter_for(choice.provider) is not None:
        message = f"{choice.provider} has no embeddings API (model {model!r})"
        return ProxyAnswer(
            400,
            error_body(message, "unsupported_endpoint", type_="invalid_request_error"),
            failure=Failure("error", "unsupported_endpoint", message),
            target=Target(choice.provider, choice.model),
        )
    return forward_compatible(request, routed, "embeddings")


def _convert(
    request: ClientRequest,
    upstream: Upstream,
    adapter: ProviderAdapter,
    payload: dict[str, Any],
    model: str,
    *,
    drop: bool = False,
) -> ForwardingPlan | ProxyAnswer:
    """The converted route. ``drop`` (chat, ``proxy.unsupported_params: drop``): parameters
    the provider cannot take are removed and listed in the warnings, not answered with 400."""
    target = Target(upstream.provider, model, "converted", adapter)
    warnings: tuple[str, ...] = ()
    if drop:
        payload, dropped = drop_unsupported(payload, upstream.provider)
        warnings = (dropped_warning(upstream.provider, dropped),) if dropped else ()
    try:
        native = adapter.build_request(payload, model=model)
    except ProviderError as exc:
        return provider_error(exc, target=target)
    target = Target(
        upstream.provider, model, "converted", adapter, native.path.split("?", 1)[0], native.body
    )
    path, _, query = native.path.lstrip("/").partition("?")
    try:
        url = upstream.url_for(path, query)
    except LookupError as exc:
        return proxy_error(502, "upstream_not_configured", str(exc), target=target)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    headers.update(upstream.auth_headers(upstream.api_key or request.bearer_key()))
    options = payload.get("stream_options")
    return ForwardingPlan(
        target,
        request.method,
        url,
        headers,
        msgspec.json.encode(native.body),
        mode="convert",
        stream=native.stream,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        warnings=warnings,
    )


def _forward(
    request: ClientRequest,
    upstream: Upstream,
    tail: str,
    target: Target,
    *,
    changes: dict[str, Any] | None = None,
    query: str | None = None,
    credentials: str | None = None,
) -> ForwardingPlan | ProxyAnswer:
    """Forward the client's request as is, but for ``changes`` to its top-level fields
    (every other byte of the body kept, whatever its depth) and the ``stream_options`` the
    proxy adds to record usage.

    ``credentials``: the front door sent an OpenAI-format request to another
    OpenAI-compatible provider (xAI, Azure): the client's own key headers are replaced by the
    proxy's key for that provider, or else by the client's bearer key put in the provider's
    header (an OpenAI SDK cannot know which provider a model routes to).
    """
    changes = dict(changes or {})
    headers = upstream_request_headers(request.headers)
    if credentials is not None:
        headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        headers.update(upstream.auth_headers(upstream.api_key or credentials))
    elif not any(k.lower() in CREDENTIAL_HEADERS for k in headers):
        headers.update(upstream.auth_headers())
    else:
        for name, value in upstream.auth_headers(key="").items():
            headers.setdefault(name, value)  # anthropic-version when the client sent none
    mode: RelayMode = "raw"
    warnings: tuple[str, ...] = ()
    payload = request.json
    if (
        upstream.inject_stream_usage
        and tail == "chat/completions"
        and isinstance(payload, dict)
        and payload.get("stream") is True
    ):
        options = payload.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage") is True):
            options = dict(options) if isinstance(options, dict) else {}
            options["include_usage"] = True
            changes["stream_options"] = options
            mode = "withhold_usage"
            warnings = (USAGE_WARNING,)
    try:
        url = upstream.url_for(tail, request.query if query is None else query)
    except LookupError as exc:
        return proxy_error(
            502, "upstream_not_configured", str(exc), target=target, warnings=warnings
        )
    body = rewrite_top_level(request.body, changes) if changes else request.body
    return ForwardingPlan(
        target,
        request.method,
        url,
        headers,
        body,
        mode,
        warnings=warnings,
        accept_encoding=accept_encoding(request.header("Accept-Encoding")),
    )
