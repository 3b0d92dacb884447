"""Redaction of stream chunks: the pieces of each streamed text are joined across chunks,
scanned once, and the findings mapped back onto the pieces (:meth:`Redactor.redact_stream`).

Which pieces belong together: every string field of a chunk's decoded ``data`` is keyed by
its JSON path, where a list position is replaced by the element's own ``index``
(``choices[0]``, ``tool_calls[1]``; Gemini thought parts: ``parts[thought]``) and the
chunk's identity fields (Anthropic/Cohere
``index``, Responses ``output_index``/``content_index``/``summary_index``, and the event type
of Responses ``*.delta`` events) head the key. Pieces with the same key, in chunk order, are
one text. That covers OpenAI chat and Responses events, Anthropic text/thinking/tool-input
deltas, Gemini parts, Ollama, Cohere text/tool plans/tool arguments/thinking, and formats not
known here. Identifier fields (:data:`NOT_JOINED`) and fields whose value is the same in every
chunk are scanned one value at a time instead (so ``id`` + ``id`` never invents a match).
Undecoded ``raw`` chunk text is one more stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from traceforge_shared.redact.placeholders import REDACTED, is_marker
from traceforge_shared.trace import Trace

if TYPE_CHECKING:
    from traceforge_shared.redact.engine import Redaction, Redactor

#: Nesting depth beyond which a container in a chunk is replaced by :data:`TOO_DEEP`.
MAX_DEPTH = 200
#: What replaces a container nested deeper than :data:`MAX_DEPTH`.
TOO_DEEP = "[REDACTED: nested too deep]"

#: Last keys of the string fields that streams deliver in pieces, chunk after chunk: always
#: joined across chunks, even when every piece is the same.
STREAMED_FIELDS = frozenset(
    {
        "content",
        "text",
        "arguments",
        "partial_json",
        "refusal",
        "reasoning_content",
        "reasoning",
        "thinking",
        "response",
        "delta",
        "tool_plan",
        "signature",
        "transcript",
    }
)

#: Keys of identifiers and labels repeated or renewed in every chunk (``id``, ``model``,
#: timestamps, OpenAI's random ``obfuscation`` padding): scanned one value at a time, never
#: joined. Every other string field is joined per field path across chunks.
NOT_JOINED = frozenset(
    {
        "id",
        "object",
        "model",
        "type",
        "role",
        "created_at",
        "system_fingerprint",
        "obfuscation",
        "service_tier",
        "finish_reason",
        "stop_reason",
        "done_reason",
        "item_id",
        "call_id",
        "tool_call_id",
        "status",
        "event",
        "responseId",
        "modelVersion",
        "finishReason",
        "name",
    }
)

#: Keys never scanned: OpenAI's ``obfuscation``, random padding the server adds to each chunk
#: (it never holds caller data; scanning it cost a third of the redaction time).
NOT_SCANNED = frozenset({"obfuscation"})

#: Integer fields of a chunk that say which part of the answer it continues: Anthropic's and
#: Cohere's content block ``index``, the Responses API's output item / content part / summary.
_IDENTITY = ("index", "output_index", "content_index", "summary_index")


#: ``(chunk position, container, field name, text)`` of one piece of a streamed text.
_Slot = tuple[int, Any, Any, str]


def redact_chunks(redactor: Redactor, trace: Trace, report: Redaction) -> None:
    """Redact every chunk of ``trace`` in place, adding ``chunks[N].<key>: kind`` entries to
    ``report``."""
    streams: dict[str, list[_Slot]] = {}
    memo: dict[str, tuple[str, list[str]]] = {}  # strings repeated in every chunk
    for position, chunk in enumerate(trace.chunks):
        if chunk.raw is not None:
            streams.setdefault("raw", []).append((position, chunk, "raw", chunk.raw))
        data = chunk.data
        if isinstance(data, (dict, list)):
            walker = _Walker(redactor, position, streams, report, memo)
            walker.walk(data, f"chunks[{position}].data", _chunk_key(data))
    for key, slots in streams.items():
        if len(slots) > 1 and not _always_joined(key) and _all_same(slots):
            _redact_one_by_one(redactor, key, slots, report, memo)
            continue
        new, where = redactor.redact_stream([slot[3] for slot in slots])
        for (_, container, name, old), text in zip(slots, new, strict=True):
            if text is not old:
                _store(container, name, text)
        for index, kind in where:
            report.add(f"chunks[{slots[index][0]}].{key}", kind)


def _chunk_key(data: dict[str, Any] | list[Any]) -> str:
    if not isinstance(data, dict):
        return "data"
    parts = []
    for name in _IDENTITY:
        value = data.get(name)
        if value is not None and type(value) is int:
            parts.append(f"{name}={value}")
    if not parts and not isinstance(data.get("delta"), str):
        return "data"
    kind = data.get("type")
    if isinstance(kind, str) and isinstance(data.get("delta"), str):
        parts.insert(0, f"type={kind}")
    return f"data[{','.join(parts)}]" if parts else "data"


def _always_joined(key: str) -> bool:
    return key == "raw" or key.rsplit(".", 1)[-1] in STREAMED_FIELDS


def _all_same(slots: list[_Slot]) -> bool:
    first = slots[0][3]
    return all(slot[3] == first for slot in slots)


def _store(container: Any, name: Any, text: str) -> None:
    if isinstance(container, (dict, list)):
        container[name] = text
    else:
        setattr(container, name, text)


def _redact_one_by_one(
    redactor: Redactor,
    key: str,
    slots: list[_Slot],
    report: Redaction,
    memo: dict[str, tuple[str, list[str]]],
) -> None:
    for position, container, name, text in slots:
        result = memo.get(text)
        if result is None:
            result = memo[text] = redactor.redact_text(text)
        if result[1]:
            _store(container, name, result[0])
            for kind in result[1]:
                report.add(f"chunks[{position}].{key}", kind)


@dataclass(eq=False)
class _Walker:
    """One walk over one chunk's payload: sensitive keys redacted on the spot, identifiers
    scanned on the spot, every other string collected into ``streams``."""

    redactor: Redactor
    position: int
    streams: dict[str, list[_Slot]]
    report: Redaction
    memo: dict[str, tuple[str, list[str]]]

    def walk(
        self, value: dict[str, Any] | list[Any], path: str, stream_key: str, depth: int = 0
    ) -> None:
        """Redact ``value`` (at ``path`` in the trace, ``stream_key`` for joining) in place;
        containers nested deeper than ``MAX_DEPTH`` are replaced (see
        :meth:`Redactor.redact_value`)."""
        redactor = self.redactor
        deep = depth >= MAX_DEPTH
        sensitive = redactor.sensitive if redactor.redact_keys else None
        streams, memo = self.streams, self.memo
        # ``target[name] = ...`` writes into a dict (str key) or a list (int index) alike.
        target: Any = value
        items: Iterable[tuple[Any, Any]] = (
            value.items() if isinstance(value, dict) else enumerate(value)
        )
        for name, item in items:
            if isinstance(item, str):
                if (
                    sensitive is not None
                    and item
                    and isinstance(name, str)
                    and sensitive(name)
                    and not is_marker(item)
                ):
                    target[name] = redactor.marker(REDACTED, item)
                    self.report.add(f"{path}.{name}", "sensitive_keys")
                    continue
                if name in NOT_SCANNED:
                    continue
                if isinstance(name, str) and name not in NOT_JOINED:
                    streams.setdefault(f"{stream_key}.{name}", []).append(
                        (self.position, value, name, item)
                    )
                    continue
                result = memo.get(item)
                if result is None:
                    result = memo[item] = redactor.redact_text(item)
                if result[1]:
                    target[name] = result[0]
                    child = f"{path}.{name}" if isinstance(name, str) else f"{path}[{name}]"
                    for kind in result[1]:
                        self.report.add(child, kind)
            elif deep and isinstance(item, (dict, list)):
                target[name] = TOO_DEEP
                child = f"{path}.{name}" if isinstance(name, str) else f"{path}[{name}]"
                self.report.add(child, "too_deep")
            elif isinstance(item, dict):
                if isinstance(name, str):
                    child, key = f"{path}.{name}", f"{stream_key}.{name}"
                else:
                    # Gemini's thought parts are one text, wherever they sit in ``parts``.
                    index = item.get("index", "thought" if item.get("thought") is True else name)
                    child, key = f"{path}[{name}]", f"{stream_key}[{index}]"
                self.walk(item, child, key, depth + 1)
            elif isinstance(item, list):
                child = f"{path}.{name}" if isinstance(name, str) else f"{path}[{name}]"
                key = f"{stream_key}.{name}" if isinstance(name, str) else f"{stream_key}[{name}]"
                self.walk(item, child, key, depth + 1)
            elif (
                sensitive is not None
                and item is not None
                and isinstance(name, str)
                and not isinstance(item, bool)
                and sensitive(name)
            ):
                target[name] = redactor.marker(REDACTED, str(item))
                self.report.add(f"{path}.{name}", "sensitive_keys")
