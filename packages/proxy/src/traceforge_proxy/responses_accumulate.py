"""Rebuild a Responses API ``response`` object from the events of its stream.

Format: OpenAI Responses streaming
(https://platform.openai.com/docs/api-reference/responses-streaming; the event and object
shapes are those of openai-python's ``openai.types.responses``). A stream runs
``response.created`` (the whole ``response``, ``output: []``) … ``response.completed`` (or
``response.incomplete`` / ``response.failed``, each carrying the whole final ``response``).
In between, every output item — ``message``, ``function_call``, ``reasoning``,
``web_search_call``, ``file_search_call``, any other type — is opened by
``response.output_item.added`` and closed by ``response.output_item.done`` (the finished
item); its parts arrive as ``response.content_part.added`` / ``.done``,
``response.reasoning_summary_part.added`` / ``.done`` and deltas (``output_text``,
``refusal``, ``function_call_arguments``, ``reasoning_summary_text``, ``reasoning_text``,
``output_text.annotation.added``). An ``error`` event reports a failure.

The rule is the openai SDK's own (``openai.lib.streaming.responses.ResponseStreamState``):
the terminal event's ``response`` is the final one; when it has no ``output``, the finished
items are. A stream cut off before its terminal event gives the last ``response`` seen with
the output built so far from the events.

:class:`ResponsesEventTail` keeps a stream's events compact (the stream past the chunk cap,
:mod:`~traceforge_proxy.stream_tail`): only the events that change the rebuilt ``response``,
with consecutive deltas of one part joined into one event.
"""

from __future__ import annotations

import copy
from typing import Any

#: Events that carry the whole ``response`` while it runs.
_LIFECYCLE_EVENTS = ("response.created", "response.queued", "response.in_progress")
#: Terminal events, and the final state each one means.
_TERMINAL_EVENTS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}


def _index(value: Any) -> int | None:
    """An event's ``*_index`` as an int, or ``None`` when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _slot(parts: list[Any], index: int | None, empty: dict[str, Any]) -> dict[str, Any]:
    """``parts[index]`` (a dict), grown with ``empty`` copies as far as ``index`` needs."""
    position = len(parts) - 1 if index is None else index
    while len(parts) <= max(position, 0):
        parts.append(copy.deepcopy(empty))
    part = parts[position]
    if isinstance(part, dict):
        return part
    fresh = parts[position] = copy.deepcopy(empty)
    return fresh


class ResponsesAccumulator:
    """Feed each decoded Responses event with :meth:`add`; :meth:`result` is the
    ``response`` object.

    Attributes:
        events: Responses events added.
        final: ``completed``, ``incomplete`` or ``failed`` once a terminal event arrived.
        error: the ``error`` event's payload, if one arrived.
    """

    def __init__(self) -> None:
        self.events = 0
        self.final: str | None = None
        self.error: dict[str, Any] | None = None
        self._response: dict[str, Any] | None = None
        self._final_response: dict[str, Any] | None = None
        #: output items by ``output_index``, as built from the events.
        self._items: dict[int, dict[str, Any]] = {}

    @staticmethod
    def kind(event: str | None, payload: Any) -> str | None:
        """The Responses event type of a payload (its ``type``, else the SSE ``event``), or
        ``None`` when it is not a Responses event."""
        kind = payload.get("type") if isinstance(payload, dict) else None
        if not isinstance(kind, str):
            kind = event
        if kind is not None and (kind.startswith("response.") or kind == "error"):
            return kind
        return None

    def add(self, kind: str, payload: dict[str, Any]) -> None:
        """Merge one event of type ``kind`` (see :meth:`kind`); events this class does not
        know are counted and otherwise ignored."""
        self.events += 1
        response = payload.get("response")
        if kind in _LIFECYCLE_EVENTS:
            if isinstance(response, dict):
                self._response = response
            return
        if kind in _TERMINAL_EVENTS:
            self.final = _TERMINAL_EVENTS[kind]
            if isinstance(response, dict):
                self._final_response = response
            return
        if kind == "error":
            if self.error is None:
                self.error = payload
            return
        output_index = _index(payload.get("output_index"))
        if kind == "response.output_item.added" or kind == "response.output_item.done":
            item = payload.get("item")
            if isinstance(item, dict):
                index = len(self._items) if output_index is None else output_index
                # added: a copy the deltas grow; done: the finished item as sent.
                self._items[index] = copy.deepcopy(item) if kind.endswith("added") else item
            return
        item = self._items.get(output_index if output_index is not None else -1)
        if item is None:
            return
        self._apply(kind, payload, item)

    def _apply(self, kind: str, payload: dict[str, Any], item: dict[str, Any]) -> None:
        """Apply a part or delta event to its (open) output ``item``."""
        family, _, step = kind.rpartition(".")
        if family in _PART_EVENTS and step in ("added", "done"):
            key, index_field = _PART_EVENTS[family]
            part = payload.get("part")
            if isinstance(part, dict):
                parts = item.setdefault(key, [])
                _slot(parts, _index(payload.get(index_field)), {})
                index = _index(payload.get(index_field))
                parts[index if index is not None else -1] = copy.deepcopy(part)
        elif family in _TEXT_EVENTS and step in ("delta", "done"):
            key, index_field, empty, field = _TEXT_EVENTS[family]
            value = payload.get("delta" if step == "delta" else field)
            if isinstance(value, str):
                part = _slot(item.setdefault(key, []), _index(payload.get(index_field)), empty)
                part[field] = (str(part.get(field) or "") if step == "delta" else "") + value
        elif kind == "response.output_text.annotation.added":
            index = _index(payload.get("content_index"))
            part = _slot(item.setdefault("content", []), index, _OUTPUT_TEXT)
            part.setdefault("annotations", []).append(payload.get("annotation"))
        elif family == "response.function_call_arguments" and step in ("delta", "done"):
            value = payload.get("delta" if step == "delta" else "arguments")
            if isinstance(value, str):
                previous = str(item.get("arguments") or "") if step == "delta" else ""
                item["arguments"] = previous + value

    def output(self) -> list[dict[str, Any]]:
        """The output items built from the events so far, by ``output_index``."""
        return [self._items[index] for index in sorted(self._items)]

    def result(self) -> dict[str, Any] | None:
        """The ``response`` object: the terminal event's (its ``output`` filled from the
        events when it has none), else the last one seen with the output built so far;
        ``None`` if no event carried a response and no output came."""
        final = self._final_response
        if final is not None:
            if final.get("output") is None:
                return {**final, "output": self.output()}
            return final
        if self._response is None and not self._items:
            return None
        response = dict(self._response or {"object": "response"})
        response["output"] = self.output()
        return response


class ResponsesEventTail:
    """Responses events kept compact: :meth:`events`, added to a
    :class:`ResponsesAccumulator` after the events that came before these, give the same
    ``response`` as adding each event this one took.

    Kept: the last lifecycle event (only its ``response`` counts), the first ``error``, the
    last terminal event, and in order the output item, part and text events, where a run of
    deltas to one part (same type and indexes) becomes one delta holding their joined text,
    and an ``output_item.added`` / ``.done`` drops the earlier events of its item (it replaces
    the item). Events :class:`ResponsesAccumulator` ignores are only counted.

    Attributes:
        count: Responses events added.
    """

    def __init__(self) -> None:
        self.count = 0
        self._lifecycle: dict[str, Any] | None = None
        self._terminal: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        #: item events in order: ``(event, joined delta text or None)``.
        self._items: list[tuple[dict[str, Any], bytearray | None]] = []

    def add(self, kind: str, payload: dict[str, Any]) -> None:
        """Take one event of type ``kind`` (:meth:`ResponsesAccumulator.kind`); ``payload``
        is not changed (it may be the dict sent to the client)."""
        self.count += 1
        event = payload if payload.get("type") == kind else {**payload, "type": kind}
        if kind in _LIFECYCLE_EVENTS:
            self._lifecycle = event
        elif kind in _TERMINAL_EVENTS:
            self._terminal = event
        elif kind == "error":
            if self._error is None:
                self._error = event
        elif kind in ("response.output_item.added", "response.output_item.done"):
            index = _index(payload.get("output_index"))
            if index is not None:
                self._items = [kept for kept in self._items if kept[0].get("output_index") != index]
            self._items.append((event, None))
        elif kind.endswith(".delta") and _affects(kind):
            self._add_delta(kind, event)
        elif _affects(kind):
            self._items.append((event, None))

    def _add_delta(self, kind: str, event: dict[str, Any]) -> None:
        value = event.get("delta")
        if not isinstance(value, str):
            return  # the accumulator ignores it too
        joined = value.encode("utf-8", "surrogatepass")
        if self._items:
            last, text = self._items[-1]
            if text is not None and all(event.get(k) == last.get(k) for k in _DELTA_KEYS):
                text += joined
                return
        self._items.append(({k: event.get(k) for k in _DELTA_KEYS}, bytearray(joined)))

    def events(self) -> list[dict[str, Any]]:
        """The compact events, in the order to add them."""
        out: list[dict[str, Any]] = [] if self._lifecycle is None else [self._lifecycle]
        for event, text in self._items:
            if text is not None:
                event = {**event, "delta": text.decode("utf-8", "surrogatepass")}
            out.append(event)
        out.extend(e for e in (self._error, self._terminal) if e is not None)
        return out


#: What identifies the part a delta goes to (and the event type).
_DELTA_KEYS = ("type", "item_id", "output_index", "content_index", "summary_index")


def _affects(kind: str) -> bool:
    """Whether :meth:`ResponsesAccumulator._apply` reads an event of type ``kind``."""
    family, _, step = kind.rpartition(".")
    return (
        (family in _PART_EVENTS and step in ("added", "done"))
        or (family in _TEXT_EVENTS and step in ("delta", "done"))
        or kind == "response.output_text.annotation.added"
        or (family == "response.function_call_arguments" and step in ("delta", "done"))
    )


_OUTPUT_TEXT: dict[str, Any] = {"type": "output_text", "text": "", "annotations": []}
_REFUSAL: dict[str, Any] = {"type": "refusal", "refusal": ""}
_SUMMARY_TEXT: dict[str, Any] = {"type": "summary_text", "text": ""}
_REASONING_TEXT: dict[str, Any] = {"type": "reasoning_text", "text": ""}

#: ``<family>.added`` / ``.done`` events carrying a whole part: the item's list and the
#: event's index field.
_PART_EVENTS = {
    "response.content_part": ("content", "content_index"),
    "response.reasoning_summary_part": ("summary", "summary_index"),
}
#: ``<family>.delta`` / ``.done`` events of a part's text: the item's list, the index field,
#: the part a delta starts when none was added, and the text field (also the ``.done``
#: event's field holding the whole text).
_TEXT_EVENTS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "response.output_text": ("content", "content_index", _OUTPUT_TEXT, "text"),
    "response.refusal": ("content", "content_index", _REFUSAL, "refusal"),
    "response.reasoning_summary_text": ("summary", "summary_index", _SUMMARY_TEXT, "text"),
    "response.reasoning_text": ("content", "content_index", _REASONING_TEXT, "text"),
}
