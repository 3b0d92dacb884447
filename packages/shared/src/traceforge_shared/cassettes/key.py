"""Request keys: which recording answers a request, and what differs when none does.

The key of a request is a hash of its canonical form (:func:`canonical_request`): the
provider it is routed to, the method, the endpoint (the proxy path, which for Gemini names
the model), the query without credentials, and the whole JSON body (model, messages or
input, tools, tool choice, response format, sampling parameters, ...) minus the volatile
fields: :data:`VOLATILE_FIELDS` plus the configured ``replay.ignore_fields``.

Ignore fields are dotted paths into the body: ``temperature``, ``metadata.user_id``,
``messages[*].name`` (``*`` matches every list item or mapping key), or a name alone matching
that key at any depth when written ``**.name``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec

from traceforge_shared.cassettes.format import RecordedRequest

#: Body fields never matched: they change between runs without changing the answer
#: (``user``/``metadata``/``safety_identifier``/``prompt_cache_key`` identify the caller,
#: ``stream_options`` only asks for usage, which the proxy asks for anyway).
VOLATILE_FIELDS: tuple[str, ...] = (
    "user",
    "metadata",
    "stream_options",
    "safety_identifier",
    "prompt_cache_key",
)

#: Query parameters never matched or stored (credentials: Gemini's ``key``).
SECRET_QUERY_PARAMS = frozenset({"key", "api_key", "api-key", "access_token"})

#: Length of a request key (hex digits of a SHA-256).
KEY_LENGTH = 16


@dataclass(frozen=True)
class RequestView:
    """What a request key is computed over.

    Attributes:
        provider: the provider the call is routed to.
        method: HTTP method.
        endpoint: the proxy path (``/v1/chat/completions``).
        query: the query string (credentials are dropped by :func:`clean_query`).
        body: the decoded JSON body (``None`` when empty); a non-JSON body as its text.
    """

    provider: str
    method: str
    endpoint: str
    query: str
    body: Any


def request_view(request: RecordedRequest) -> RequestView:
    """The :class:`RequestView` of a recorded request (what its key is computed over)."""
    body = request.body if request.body_text is None else request.body_text
    return RequestView(request.provider, request.method, request.endpoint, request.query, body)


def clean_query(query: str) -> str:
    """``query`` without credential parameters (:data:`SECRET_QUERY_PARAMS`), sorted."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)]
    kept = sorted((k, v) for k, v in pairs if k.lower() not in SECRET_QUERY_PARAMS)
    return urlencode(kept)


def canonical_request(view: RequestView, ignore_fields: Iterable[str] = ()) -> dict[str, Any]:
    """The canonical form of a request: ``{"provider", "method", "endpoint", "query",
    "body"}`` with the volatile and ignored body fields removed."""
    body = view.body
    for path in (*VOLATILE_FIELDS, *ignore_fields):
        body = _without(body, _split(path))
    return {
        "provider": view.provider,
        "method": view.method.upper(),
        "endpoint": view.endpoint,
        "query": clean_query(view.query),
        "body": body,
    }


def request_key(view: RequestView, ignore_fields: Iterable[str] = ()) -> str:
    """The request key: the first :data:`KEY_LENGTH` hex digits of the SHA-256 of the
    canonical request's JSON (object keys sorted)."""
    return key_of(canonical_request(view, ignore_fields))


def key_of(canonical: dict[str, Any]) -> str:
    """The key of a :func:`canonical_request` result."""
    encoded = msgspec.json.encode(canonical, order="sorted")
    return hashlib.sha256(encoded).hexdigest()[:KEY_LENGTH]


def _split(path: str) -> list[str]:
    parts: list[str] = []
    for piece in path.replace("[", ".[").split("."):
        if not piece:
            continue
        parts.append("*" if piece in ("[*]", "[]") else piece.strip("[]"))
    return parts


def _without(value: Any, parts: list[str]) -> Any:
    """``value`` with the field at ``parts`` removed (copies only what changes)."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if head == "**":
        if not rest:
            return value
        value = _without(value, rest)
        if isinstance(value, dict):
            return {k: _without(v, parts) for k, v in value.items()}
        if isinstance(value, list):
            return [_without(v, parts) for v in value]
        return value
    if isinstance(value, dict):
        if not rest:
            if head == "*":
                return {}
            return {k: v for k, v in value.items() if k != head} if head in value else value
        if head == "*":
            return {k: _without(v, rest) for k, v in value.items()}
        if head in value:
            return {**value, head: _without(value[head], rest)}
        return value
    if isinstance(value, list):
        if head == "*":
            return [] if not rest else [_without(v, rest) for v in value]
        if head.isdigit() and int(head) < len(value):
            index = int(head)
            copy = list(value)
            if not rest:
                del copy[index]
            else:
                copy[index] = _without(copy[index], rest)
            return copy
    return value


# -- differences --------------------------------------------------------------------------

#: How long a value may be shown in a difference before it is cut.
SHOWN_CHARS = 60


def field_diff(wanted: dict[str, Any], recorded: dict[str, Any], *, limit: int = 10) -> list[str]:
    """The differences between two canonical requests, field by field, in document order:
    ``body.messages[1].content: "Hello" != "Hi"`` (the request's value first), ``body.tools:
    missing != [...]`` for a field only one side has. At most ``limit`` entries, the last
    saying how many more there are."""
    out: list[str] = []
    _diff(wanted, recorded, "", out)
    if len(out) > limit:
        return [*out[: limit - 1], f"... and {len(out) - limit + 1} more differences"]
    return out


def _shown(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            child = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(f"{child}: {_shown(a[key])} != missing")
            elif key not in a:
                out.append(f"{child}: missing != {_shown(b[key])}")
            else:
                _diff(a[key], b[key], child, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            child = f"{path}[{index}]"
            if index >= len(b):
                out.append(f"{child}: {_shown(a[index])} != missing")
            elif index >= len(a):
                out.append(f"{child}: missing != {_shown(b[index])}")
            else:
                _diff(a[index], b[index], child, out)
        return
    if a != b or type(a) is not type(b):
        out.append(f"{path}: {_shown(a)} != {_shown(b)}")


def _leaves(value: Any, path: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _leaves(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _leaves(item, f"{path}[{index}]", out)
    else:
        out[path] = msgspec.json.encode(value).decode()


def similarity(wanted: dict[str, Any], recorded: dict[str, Any]) -> float:
    """How alike two canonical requests are, 0 to 1: the share of leaf fields (path and
    value) they have in common, with provider, endpoint and method weighing more."""
    a: dict[str, str] = {}
    b: dict[str, str] = {}
    _leaves(wanted, "", a)
    _leaves(recorded, "", b)
    same = sum(1 for path, value in a.items() if b.get(path) == value)
    total = len(a.keys() | b.keys()) or 1
    score = same / total
    for field in ("provider", "endpoint", "method"):
        if wanted.get(field) == recorded.get(field):
            score += 1.0
    return score / 4.0


def nearest(
    wanted: dict[str, Any], recorded: Sequence[tuple[str, dict[str, Any]]]
) -> tuple[str, list[str]] | None:
    """The recording most like ``wanted`` among ``(name, canonical request)`` pairs, with
    :func:`field_diff` of the two; ``None`` when there are none."""
    if not recorded:
        return None
    name, best = max(recorded, key=lambda item: similarity(wanted, item[1]))
    return name, field_diff(wanted, best)
