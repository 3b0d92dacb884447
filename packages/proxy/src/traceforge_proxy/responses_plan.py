"""The forwarding plan of a Responses API call (``/v1/responses`` and ``/v1/responses/{id}...``).

Part of :func:`traceforge_proxy.plan.plan_request` (pure: no network, no clock, no disk).
``POST /v1/responses`` is routed by model like chat completions (routing prefixes
``provider/model`` and the ``X-TraceForge-Provider`` header included): OpenAI, Azure (its
``/openai/responses`` endpoint, ``model`` = the deployment) and the other OpenAI-compatible
providers with a Responses API (xAI: https://docs.x.ai/docs/api-reference) get it as is and
their answer is relayed byte for byte; Anthropic, Gemini, Ollama and Cohere get it converted
(:class:`~traceforge_proxy.providers.responses.ResponsesAdapter`).

``GET /v1/responses/{id}``, ``GET .../input_items``, ``POST .../cancel`` and ``DELETE`` go to
OpenAI (or the OpenAI-compatible provider the header names) as they are; for a converted
response (its id starts with ``resp_tf_``) or a converted provider the proxy answers itself: a
404 (nothing is stored) or, for cancel, a 400 (converted responses never run in the
background), in OpenAI's error shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import msgspec

from traceforge_proxy.plan import (
    ClientRequest,
    Failure,
    ForwardingPlan,
    ProxyAnswer,
    Routed,
    Target,
    _convert,
    _forward,
    forward_compatible,
    route_by_model,
)
from traceforge_proxy.providers import adapter_for
from traceforge_proxy.providers.params import dropped_warning
from traceforge_proxy.providers.responses import ResponsesAdapter
from traceforge_proxy.providers.responses_answer import CONVERTED_ID_PREFIX
from traceforge_proxy.routing import PROVIDER_HEADER, Router
from traceforge_proxy.upstream import Upstream

__all__ = ["plan_responses"]


def _answer(status: int, code: str, message: str, param: str | None = None) -> ProxyAnswer:
    """The proxy's own answer in OpenAI's error shape (``error.param``: ``param``)."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    body = msgspec.json.encode({"error": error})
    return ProxyAnswer(status, body, failure=Failure("error", code, message))


def plan_responses(
    request: ClientRequest, router: Router, upstreams: Mapping[str, Upstream]
) -> ForwardingPlan | ProxyAnswer:
    """Plan a ``/v1/responses...`` call (``request.tail`` starts with ``responses``).

    Returns:
        the plan, or the proxy's own answer: 400 unknown model, the 400 of a Responses
        request the conversion cannot express (stateful parameters on a converted provider,
        parameters the provider cannot take unless ``proxy.unsupported_params: drop``:
        ``error.param`` naming the parameter), 404/400 for the id of a converted response.
        Dropped parameters are listed in the plan's warnings (the trace's).
    """
    if request.tail == "responses" and request.method == "POST":
        return _create(request, router, upstreams)
    return _by_id(request, upstreams)


def _create(
    request: ClientRequest, router: Router, upstreams: Mapping[str, Upstream]
) -> ForwardingPlan | ProxyAnswer:
    routed = route_by_model(request, router, upstreams, "responses", param="model")
    if not isinstance(routed, Routed):
        return routed
    payload, choice, upstream = routed.payload, routed.choice, routed.upstream
    chat = adapter_for(choice.provider)
    if chat is not None:
        adapter = ResponsesAdapter(chat, payload, drop=router.unsupported_params == "drop")
        if not request.json_complete:
            message = (
                f"the request is nested too deep to convert for {choice.provider}; "
                "send it to the provider's own API (/{provider}/...) to have it relayed as is"
            )
            answer = _answer(400, "request_too_deep", message)
            return ProxyAnswer(
                answer.status,
                answer.body,
                failure=answer.failure,
                target=Target(choice.provider, choice.model, "converted", adapter),
            )
        plan = _convert(request, upstream, adapter, payload, choice.model)
        if isinstance(plan, ForwardingPlan) and adapter.dropped:
            warning = dropped_warning(choice.provider, adapter.dropped)
            plan = dataclasses.replace(plan, warnings=(*plan.warnings, warning))
        return plan
    return forward_compatible(request, routed, "responses")


def _by_id(
    request: ClientRequest, upstreams: Mapping[str, Upstream]
) -> ForwardingPlan | ProxyAnswer:
    """``/v1/responses/{id}[/input_items|/cancel]``: relayed, unless the id is a converted
    response's or the provider header names a converted provider."""
    response_id = request.tail.removeprefix("responses/").split("/", 1)[0]
    named = (request.header(PROVIDER_HEADER) or "").strip().lower()
    converted = response_id.startswith(CONVERTED_ID_PREFIX)
    provider = named or "openai"
    if converted or (named and adapter_for(named) is not None):
        if converted:
            provider = response_id.removeprefix(CONVERTED_ID_PREFIX).split("_", 1)[0]
        if request.tail.endswith("/cancel"):
            return _answer(
                400,
                "unsupported_operation",
                f"response {response_id!r} was converted from {provider} by TraceForge; "
                "only background responses can be cancelled, and converted responses never "
                "run in the background",
            )
        return _answer(
            404,
            "response_not_found",
            f"response {response_id!r} was converted from {provider} by TraceForge and is not "
            f"stored: {provider} has no stored responses (its answer is in the trace)",
        )
    upstream = upstreams.get(provider)
    if upstream is None:
        return _answer(400, "unknown_provider", f"unknown provider {named!r} in {PROVIDER_HEADER}")
    credentials = None if provider == "openai" else request.bearer_key()
    return _forward(request, upstream, request.tail, Target(provider), credentials=credentials)
