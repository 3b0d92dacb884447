"""Compare two traces: what changed in the request, the answer and the call's metadata.

The structural diff is DeepDiff's (https://github.com/seperman/deepdiff), reported with
TraceForge field paths (``request.messages[0].content``, see
:mod:`traceforge_shared.evals.fields`) instead of DeepDiff's ``root['request'][...]``.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from deepdiff import DeepDiff
from rapidfuzz import fuzz

from traceforge_shared.chat_view import chat_trace, is_responses_trace
from traceforge_shared.trace import Trace, TraceSummary, response_text, summarize

__all__ = [
    "MAX_ENTRIES",
    "DiffAdded",
    "DiffChanged",
    "DiffRemoved",
    "DiffSide",
    "TraceDiff",
    "diff_traces",
]

#: Most entries kept in each of ``added``, ``removed`` and ``changed``.
MAX_ENTRIES = 500

#: Metadata left out of the diff: per-call noise (headers, timings) and what the diff sees
#: elsewhere (``usage`` is ``response.usage``; latencies are in the sides).
_METADATA_SKIPPED = frozenset(
    {
        "request_headers",
        "response_headers",
        "latency_ms",
        "first_chunk_latency_ms",
        "stream_duration_ms",
        "usage",
    }
)
#: Ids and creation times the provider puts in each answer (``chatcmpl-...``, ``created``,
#: tool call ids): they differ between any two calls. ``int`` stands for any list index.
_NOISE: tuple[tuple[str | type[int], ...], ...] = (
    ("response", "id"),
    ("response", "created"),
    ("response", "choices", int, "message", "tool_calls", int, "id"),
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_T = TypeVar("_T")
_encode = msgspec.json.Encoder().encode
_NUMBERS = (int, float)


class DiffSide(TraceSummary, kw_only=True, frozen=True):
    """The headline numbers of one side of a diff: the trace's index columns
    (:class:`~traceforge_shared.trace.TraceSummary`: id, timestamp, provider, model, endpoint,
    status and status code, streaming, latency and first-chunk ms, token counts, cost USD) and:

    Attributes:
        response_model: model that answered, when the provider said.
        route: how the call reached its provider (:data:`~traceforge_shared.trace.ROUTES`).
    """

    response_model: str | None
    route: str


class DiffAdded(msgspec.Struct, kw_only=True):
    """A value only the second trace (``b``) has, at field path ``path``."""

    path: str
    value: Any


class DiffRemoved(msgspec.Struct, kw_only=True):
    """A value only the first trace (``a``) has, at field path ``path``."""

    path: str
    value: Any


class DiffChanged(msgspec.Struct, kw_only=True):
    """A value at ``path`` that differs: ``from`` in ``a`` (``from_`` in Python), ``to`` in
    ``b``."""

    path: str
    from_: Any = msgspec.field(name="from")
    to: Any


class TraceDiff(msgspec.Struct, kw_only=True):
    """What differs between trace ``a`` and trace ``b``.

    JSON shape (``msgspec.json.encode``)::

        {"a": side, "b": side,
         "added": [{"path": "request.messages[2]", "value": {...}}],
         "removed": [{"path": "request.temperature", "value": 0.2}],
         "changed": [{"path": "response.choices[0].message.content", "from": "..", "to": ".."}],
         "truncated": false, "similarity": 0.83, "answer_a": "...", "answer_b": "..."}

    Attributes:
        a, b: headline numbers of each trace (:class:`DiffSide`).
        added: values only ``b`` has, at field paths.
        removed: values only ``a`` has.
        changed: values at the same path that differ, or changed type.
        truncated: some list was cut at :data:`MAX_ENTRIES` entries.
        similarity: how alike the answer texts are, 0-1 (``rapidfuzz.fuzz.ratio`` / 100: the
            normalized Indel similarity); 1.0 when both are empty.
        answer_a, answer_b: the answer texts (``choices[0].message.content``), whole.

    Paths are field paths rooted at the trace (``request...``, ``response...``,
    ``metadata.status``, ``model``). Values are whole (never shortened) plain JSON data.
    """

    a: DiffSide
    b: DiffSide
    added: list[DiffAdded]
    removed: list[DiffRemoved]
    changed: list[DiffChanged]
    truncated: bool
    similarity: float
    answer_a: str
    answer_b: str


def diff_traces(a: Trace, b: Trace) -> TraceDiff:
    """Compare trace ``a`` (before) with trace ``b`` (after).

    Compared: ``request`` and ``response`` (the OpenAI views) and a metadata view: the
    trace's ``provider``, ``model``, ``endpoint``, ``route``, ``response_model`` and its
    ``metadata`` without per-call noise. Not compared: ids and timestamps (the trace's, and
    the answer's own ``response.id``, ``response.created`` and tool call ids), request and
    response headers, timings (latencies, stream duration; the sides carry the latencies),
    ``metadata.usage`` (the same numbers as ``response.usage``), the native provider-format
    bodies, and the stream ``chunks``: they are not diffed at all (the answer rebuilt from
    them is ``response``), which keeps a diff of two 300-chunk streams to a few ms. Numbers
    that differ only in type (``1`` and ``1.0``) are equal. Objects are compared key by key
    however different they are. Lists of objects (``messages``, ``choices``) are compared
    index by index, so a message inserted in the middle shows as changes from there on plus
    an addition at the end; lists of plain values are aligned (an inserted value is one
    addition). A value that changes type (``null`` to an object) is one change. A Responses
    API trace diffed against a chat completion trace is compared in its chat completion view
    (:func:`traceforge_shared.chat_view.chat_trace`: ``request.messages``,
    ``response.choices[0].message``); two Responses traces are compared as stored.

    Never raises on trace content: any JSON data can be compared.
    """
    # DeepDiff spends ~0.1 ms on every node it visits, equal or not: hand it only the parts
    # that differ (equal subtrees and noise taken out, list positions kept).
    if is_responses_trace(a) != is_responses_trace(b):
        view_a, view_b = _prune(_view(chat_trace(a)), _view(chat_trace(b)), ())
    else:
        view_a, view_b = _prune(_view(a), _view(b), ())
    diff = DeepDiff(
        view_a,
        view_b,
        view="tree",
        threshold_to_diff_deeper=0,  # always key by key, however different two objects are
    )
    added: list[tuple[list[Any], DiffAdded]] = []
    removed: list[tuple[list[Any], DiffRemoved]] = []
    changed: list[tuple[list[Any], DiffChanged]] = []
    for report, levels in diff.items():
        for level in levels:
            steps = level.path(output_format="list")
            path = _format_path(steps)
            if report in ("dictionary_item_added", "iterable_item_added"):
                added.append((steps, DiffAdded(path=path, value=level.t2)))
            elif report in ("dictionary_item_removed", "iterable_item_removed"):
                removed.append((steps, DiffRemoved(path=path, value=level.t1)))
            elif report in ("values_changed", "type_changes"):
                changed.append((steps, DiffChanged(path=path, from_=level.t1, to=level.t2)))
    truncated = max(len(added), len(removed), len(changed)) > MAX_ENTRIES
    answer_a, answer_b = response_text(a), response_text(b)
    similarity = fuzz.ratio(answer_a, answer_b) / 100 if answer_a or answer_b else 1.0
    return TraceDiff(
        a=_side(a),
        b=_side(b),
        added=_first(added),
        removed=_first(removed),
        changed=_first(changed),
        truncated=truncated,
        similarity=similarity,
        answer_a=answer_a,
        answer_b=answer_b,
    )


def _view(trace: Trace) -> dict[str, Any]:
    meta = msgspec.to_builtins(trace.metadata)
    return {
        "provider": trace.provider,
        "model": trace.model,
        "endpoint": trace.endpoint,
        "route": trace.route,
        "response_model": trace.response_model,
        "request": trace.request,
        "response": trace.response,
        "metadata": {k: v for k, v in meta.items() if k not in _METADATA_SKIPPED},
    }


def _prune(x: Any, y: Any, path: tuple[str | int, ...]) -> tuple[Any, Any]:
    """Return ``x`` and ``y`` without what DeepDiff would find equal: keys whose values are
    the same on both sides (and noise keys both sides have) are dropped; in lists, an item
    equal at the same position becomes one shared object (lists keep their length and item
    types, so DeepDiff aligns them as it would the originals)."""
    if isinstance(x, dict) and isinstance(y, dict):
        px: dict[Any, Any] = {}
        py: dict[Any, Any] = {}
        for key, value in x.items():
            if key not in y:
                px[key] = value
            elif not _same(value, y[key]) and not _is_noise((*path, key)):
                px[key], py[key] = _prune(value, y[key], (*path, key))
        for key, value in y.items():
            if key not in x:
                py[key] = value
        return px, py
    if isinstance(x, list) and isinstance(y, list):
        lx, ly = list(x), list(y)
        for i in range(min(len(x), len(y))):
            if _same(x[i], y[i]):
                ly[i] = lx[i]  # the same object on both sides: DeepDiff skips it at once
            else:
                lx[i], ly[i] = _prune(x[i], y[i], (*path, i))
        return lx, ly
    return x, y


def _same(x: Any, y: Any) -> bool:
    """Equal as JSON: ``1`` and ``1.0`` are, ``true`` and ``1`` are not (nor are they for
    DeepDiff, which is never shown values this finds equal)."""
    if x is y:
        return True
    tx, ty = type(x), type(y)
    if tx is not ty:
        return tx in _NUMBERS and ty in _NUMBERS and bool(x == y)
    if x != y:
        return False
    if tx is dict or tx is list:
        return bool(_encode(x) == _encode(y))  # tells True from 1 and 1 from 1.0 inside
    return True


def _is_noise(path: tuple[str | int, ...]) -> bool:
    for pattern in _NOISE:
        if len(pattern) == len(path) and all(
            isinstance(step, int) if want is int else step == want
            for want, step in zip(pattern, path, strict=True)
        ):
            return True
    return False


def _side(trace: Trace) -> DiffSide:
    return DiffSide(
        **msgspec.structs.asdict(summarize(trace)),  # its route too
        response_model=trace.response_model,
    )


def _first(entries: list[tuple[list[Any], _T]]) -> list[_T]:
    """The entries in path order (list indexes numerically), at most MAX_ENTRIES."""
    entries.sort(key=lambda entry: [_step_key(step) for step in entry[0]])
    return [entry for _, entry in entries[:MAX_ENTRIES]]


def _step_key(step: Any) -> tuple[int, int, str]:
    return (0, step, "") if isinstance(step, int) else (1, 0, str(step))


def _format_path(steps: list[Any]) -> str:
    """Write DeepDiff's path steps as a field path (``["a", 0, "b"]`` → ``a[0].b``)."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _NAME.fullmatch(str(step)):
            out += f".{step}" if out else str(step)
        else:
            out += '["' + str(step).replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out
