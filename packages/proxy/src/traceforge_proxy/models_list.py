"""``GET /v1/models`` and ``GET /v1/models/{id}``: every configured provider's models in
OpenAI's list shape (https://platform.openai.com/docs/api-reference/models/list).

Which providers: every upstream with an address (a key or ``base_url`` set, ``OLLAMA_HOST``;
the embedded mock's only when every provider is on the mock, as in ``traceforge demo``),
except Azure (its models are deployments); of several upstreams at the
same address (OpenAI-compatible hosts without a key all go to the mock's OpenAI routes) only
the first in registry order. Each is asked for its list
at once, concurrently, within :data:`LIST_TIMEOUT_S` seconds:

========================  ====================  ==============================================
wire format               path                  models read from
========================  ====================  ==============================================
OpenAI-compatible         ``{base}/models``     ``data[].id`` (``created`` kept)
Anthropic                 ``/v1/models``        ``data[].id`` (``created_at`` → ``created``)
Gemini                    ``/v1beta/models``    ``models[].name`` without ``models/``
Ollama                    ``/api/tags``         ``models[].name`` (``modified_at`` → created)
Cohere                    ``/v1/models``        ``models[].name``
========================  ====================  ==============================================

Each API's largest page is asked for (Anthropic ``limit=1000``, Gemini ``pageSize=1000``,
Cohere ``page_size=1000``) and only that first page is read.

Each model becomes ``{"id", "object": "model", "created", "owned_by": provider, "provider":
provider}``. A provider that fails (unreachable, timeout, error status, unreadable body) is
left out and named in the answer's ``skipped`` list (``[{"provider", "error"}]``) and in the
trace's warnings; the list never fails as a whole. ``GET /v1/models/{id}`` routes ``id`` as
the front door routes a model name (prefix, globs, default provider) and answers that
provider's entry, or 404 ``model_not_found``.

The answer is recorded as one trace (``provider`` ``openai`` for the list, the routed provider
for one model).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp
import msgspec

from traceforge_proxy.errors import error_body
from traceforge_proxy.plan import ClientRequest, Failure, ProxyAnswer, Target
from traceforge_proxy.routing import PROVIDER_HEADER, Router, RoutingError
from traceforge_proxy.upstream import Upstream
from traceforge_shared.providers import PROVIDER_SPECS

__all__ = ["LIST_TIMEOUT_S", "ModelsLister", "is_models_request", "openai_models"]

#: Seconds each provider has to answer its model list.
LIST_TIMEOUT_S = 5.0
#: The models path below the base URL and its query (each API's largest page: only the first
#: page is read), by wire format (OpenAI-compatible: ``models``, one page).
_PATHS = {
    "anthropic": ("v1/models", "limit=1000"),
    "gemini": ("v1beta/models", "pageSize=1000"),
    "ollama": ("api/tags", ""),
    "cohere": ("v1/models", "page_size=1000"),
}


def is_models_request(request: ClientRequest) -> bool:
    """Whether ``request`` is the front door's ``GET /v1/models`` or ``/v1/models/{id}``."""
    return (
        request.provider is None
        and request.method == "GET"
        and (request.tail == "models" or request.tail.startswith("models/"))
    )


def _epoch(value: Any) -> int:
    """Epoch seconds of an ISO 8601 date (``0`` when it is not one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return 0
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")[:26]).timestamp())
    except ValueError:
        return 0


def openai_models(provider: str, wire_format: str, body: Any) -> list[dict[str, Any]]:
    """A provider's model list answer as OpenAI ``model`` objects tagged with ``provider``.

    Raises:
        ValueError: the body is not that provider's list shape.
    """
    items: Any
    if wire_format in ("gemini", "ollama", "cohere"):
        items = body.get("models") if isinstance(body, dict) else None
    else:
        items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"not a {provider} model list")
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name = item.get("name") if wire_format in ("gemini", "ollama", "cohere") else item.get("id")
        if not isinstance(name, str):
            continue
        created = item.get("created", item.get("created_at", item.get("modified_at")))
        out.append(
            {
                "id": name.removeprefix("models/"),
                "object": "model",
                "created": _epoch(created),
                "owned_by": provider,
                "provider": provider,
            }
        )
    return out


class ModelsLister:
    """Answers ``GET /v1/models`` (merged) and ``GET /v1/models/{id}``.

    Args:
        upstreams: provider name → upstream.
        router: front-door routing (for ``/v1/models/{id}``).
        timeout_s: seconds each provider has to answer.
    """

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        router: Router,
        timeout_s: float = LIST_TIMEOUT_S,
    ) -> None:
        self.upstreams = upstreams
        self.router = router
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def listed(self) -> list[str]:
        """The providers asked for their models, in registry order; of several at the same
        address (OpenAI-compatible hosts all served by the mock's OpenAI routes) the first."""
        seen: set[str] = set()
        names = []
        # Providers on the embedded mock only stand in for those without a key: listed only
        # when no provider has a real upstream (the demo, tests).
        mock_only = all(u.mock for u in self.upstreams.values() if u.base_url is not None)
        for name, upstream in self.upstreams.items():
            if upstream.base_url is None or name == "azure" or upstream.base_url in seen:
                continue
            if upstream.mock and not mock_only:
                continue
            seen.add(upstream.base_url)
            names.append(name)
        return names

    async def answer(self, request: ClientRequest, session: aiohttp.ClientSession) -> ProxyAnswer:
        """The proxy's answer to ``request`` (see the module docstring). Never raises for an
        upstream's failure."""
        wanted = request.tail.removeprefix("models").lstrip("/")
        if not wanted:
            models, skipped = await self._gather(self.listed(), request, session)
            body: dict[str, Any] = {"object": "list", "data": models}
            if skipped:
                body["skipped"] = skipped
            return ProxyAnswer(
                200,
                msgspec.json.encode(body),
                target=Target("openai"),
                warnings=tuple(f"{s['provider']} models skipped: {s['error']}" for s in skipped),
            )
        try:
            choice = self.router.route(wanted, request.header(PROVIDER_HEADER))
        except RoutingError as exc:
            return _not_found(wanted, str(exc), None)
        target = Target(choice.provider, choice.model)
        if choice.provider not in self.listed():
            return _not_found(wanted, f"provider {choice.provider} has no upstream", target)
        models, skipped = await self._gather([choice.provider], request, session)
        found = next((m for m in models if m["id"] == choice.model), None)
        if found is None:
            reason = skipped[0]["error"] if skipped else f"{choice.provider} does not list it"
            return _not_found(wanted, reason, target)
        return ProxyAnswer(200, msgspec.json.encode(found), target=target)

    async def _gather(
        self, providers: list[str], request: ClientRequest, session: aiohttp.ClientSession
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        results = await asyncio.gather(
            *(self._one(name, request, session) for name in providers), return_exceptions=True
        )
        models: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for name, result in zip(providers, results, strict=True):
            if isinstance(result, BaseException):
                detail = str(result) or type(result).__name__
                skipped.append({"provider": name, "error": detail})
            else:
                models.extend(result)
        return models, skipped

    async def _one(
        self, provider: str, request: ClientRequest, session: aiohttp.ClientSession
    ) -> list[dict[str, Any]]:
        upstream = self.upstreams[provider]
        spec = upstream.spec or PROVIDER_SPECS.get(provider)
        wire = spec.wire_format if spec is not None else "openai"
        key = upstream.api_key
        if key is None and provider == "openai":
            key = request.bearer_key()  # the client's own OpenAI key, as /v1/... forwards it
        url = upstream.url_for(*_PATHS.get(wire, ("models", "")))
        headers = upstream.auth_headers(key)
        async with session.get(url, headers=headers, timeout=self.timeout) as response:
            data = await response.read()
            if response.status >= 400:
                raise ValueError(f"HTTP {response.status} from {url}")
        return openai_models(provider, wire, msgspec.json.decode(data))


def _not_found(model: str, reason: str, target: Target | None) -> ProxyAnswer:
    message = f"The model '{model}' does not exist ({reason})"
    return ProxyAnswer(
        404,
        error_body(message, "model_not_found", type_="invalid_request_error"),
        failure=Failure("error", "model_not_found", message),
        target=target,
    )
