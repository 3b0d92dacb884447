"""What a recorded answer says, read from its native bytes: the text, the tool calls, the
finish reason. Drift classification (:mod:`traceforge_shared.cassettes.drift`) compares two
of these.

A cassette keeps the upstream's native answer (:class:`~.format.RecordedResponse`), so the
summary is read per wire format, from each API's reference:

- OpenAI Chat Completions (https://platform.openai.com/docs/api-reference/chat): stream
  chunks' ``choices[].delta.content`` / ``.tool_calls[]`` (arguments concatenated per
  ``index``) and ``finish_reason``; a JSON answer's ``choices[].message``.
- OpenAI Responses (https://platform.openai.com/docs/api-reference/responses): the
  ``response`` of ``response.completed`` / ``.incomplete`` / ``.failed`` (or the JSON
  answer): ``output[]`` ``message`` texts and ``function_call`` items, ``status``
  (``incomplete_details.reason`` when incomplete).
- Anthropic Messages (https://docs.anthropic.com/en/api/messages-streaming):
  ``content_block_start`` / ``content_block_delta`` (``text_delta``,
  ``input_json_delta``) and ``message_delta.delta.stop_reason``; a JSON answer's
  ``content[]`` and ``stop_reason``.
- Gemini (https://ai.google.dev/api/generate-content): ``candidates[0].content.parts[]``
  (``text``, ``functionCall``) and ``finishReason``.
- Ollama (https://github.com/ollama/ollama/blob/main/docs/api.md): NDJSON lines'
  ``message.content`` / ``response``, ``message.tool_calls[]`` and ``done_reason``.
- Cohere v2 (https://docs.cohere.com/reference/chat-stream): ``content-delta``,
  ``tool-call-start`` / ``-delta`` and ``message-end``'s ``finish_reason``; a JSON answer's
  ``message`` and ``finish_reason``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from traceforge_shared.cassettes.format import Interaction, RecordedResponse, encoded_bytes


@dataclass(frozen=True)
class ToolCallSummary:
    """One tool call of an answer.

    Attributes:
        name: the function's name.
        arguments: the arguments as decoded JSON (``None`` when they are not JSON).
        arguments_text: the arguments as sent (JSON text).
    """

    name: str
    arguments: Any
    arguments_text: str

    @property
    def argument_keys(self) -> tuple[str, ...]:
        """The top-level argument names, sorted (empty when the arguments are not an
        object)."""
        return tuple(sorted(self.arguments)) if isinstance(self.arguments, dict) else ()


@dataclass(frozen=True)
class AnswerSummary:
    """What an answer says.

    Attributes:
        status: the HTTP status.
        text: the answer's text (every text part, in order).
        tool_calls: the tool calls, in order.
        finish_reason: as the API spells it (``stop``, ``tool_calls``, ``end_turn``,
            ``STOP``, ``completed``, ...), or ``None`` when the answer has none.
    """

    status: int
    text: str = ""
    tool_calls: tuple[ToolCallSummary, ...] = field(default=())
    finish_reason: str | None = None


def wire_of(interaction: Interaction) -> str:
    """The wire format of ``interaction``'s recorded answer: ``openai``, ``responses``,
    ``anthropic``, ``gemini``, ``ollama`` or ``cohere`` (the provider's, from the registry;
    ``responses`` for an OpenAI-format call to a ``/responses`` path)."""
    from traceforge_shared.providers import PROVIDER_SPECS

    request = interaction.request
    spec = PROVIDER_SPECS.get(request.provider)
    wire = spec.wire_format if spec is not None else "openai"
    path = request.upstream_path or request.endpoint
    if wire == "openai" and path.rstrip("/").endswith("/responses"):
        return "responses"
    return wire


def summarize(interaction: Interaction) -> AnswerSummary:
    """The :class:`AnswerSummary` of ``interaction``'s recorded answer (see the module
    docstring). Never raises: parts that cannot be read are left out."""
    response = interaction.response
    objects = answer_objects(response)
    reader = _READERS.get(wire_of(interaction), _openai)
    state = _State()
    for obj in objects:
        if isinstance(obj, dict):
            reader(obj, state)
    return AnswerSummary(
        status=response.status,
        text="".join(state.text),
        tool_calls=tuple(_tool_call(name, args) for name, args in state.calls.values()),
        finish_reason=state.finish,
    )


def answer_objects(response: RecordedResponse) -> list[Any]:
    """The JSON values of an answer: each SSE event's ``data`` (``[DONE]`` skipped), each
    NDJSON line, or the whole JSON body; values that are not JSON are skipped."""
    if response.stream:
        data = b"".join(read.data for read in response.reads)
    else:
        try:
            data = encoded_bytes(response.body, response.body_base64)
        except ValueError:
            return []
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    if not response.stream:
        value = _json(text)
        return [] if value is None else [value]
    if "data:" in text:
        out: list[Any] = []
        for event in text.split("\n\n"):
            lines = [line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:")]
            value = _json("\n".join(lines)) if lines else None
            if value is not None:
                out.append(value)
        return out
    return [v for v in (_json(line) for line in text.split("\n") if line.strip()) if v is not None]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


class _State:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[Any, tuple[str, str | Any]] = {}
        self.finish: str | None = None

    def call(self, index: Any, name: str | None = None, args: Any = None) -> None:
        """Start or extend tool call ``index``: a name, and arguments (a text fragment to
        append, or a decoded value that replaces them)."""
        old_name, old_args = self.calls.get(index, ("", ""))
        if isinstance(args, str) and isinstance(old_args, str):
            args = old_args + args
        elif args is None:
            args = old_args
        self.calls[index] = (name or old_name, args)


def _tool_call(name: str, args: Any) -> ToolCallSummary:
    if isinstance(args, str):
        return ToolCallSummary(name, _json(args) if args else {}, args)
    return ToolCallSummary(name, args, json.dumps(args, sort_keys=True))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _openai(obj: dict[str, Any], state: _State) -> None:
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        part = choice.get("delta") or choice.get("message") or {}
        if isinstance(part, dict):
            state.text.append(_str(part.get("content")))
            for n, call in enumerate(part.get("tool_calls") or ()):
                if isinstance(call, dict):
                    function = call.get("function") or {}
                    index = call.get("index", n)
                    state.call(index, function.get("name"), function.get("arguments"))
        if choice.get("finish_reason"):
            state.finish = str(choice["finish_reason"])


def _responses(obj: dict[str, Any], state: _State) -> None:
    response = obj.get("response") if "response" in obj else obj
    if obj.get("type") not in (
        None,
        "response.completed",
        "response.incomplete",
        "response.failed",
    ):
        return
    if not isinstance(response, dict) or "output" not in response:
        return
    state.text.clear()
    state.calls.clear()
    for n, item in enumerate(response.get("output") or ()):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for content in item.get("content") or ():
                if isinstance(content, dict) and content.get("type") == "output_text":
                    state.text.append(_str(content.get("text")))
        elif item.get("type") == "function_call":
            state.call(n, _str(item.get("name")), _str(item.get("arguments")))
    status = _str(response.get("status"))
    details = response.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason"):
        status = f"{status}:{details['reason']}"
    state.finish = status or None


def _anthropic(obj: dict[str, Any], state: _State) -> None:
    kind = obj.get("type")
    if kind == "message":  # a JSON answer
        for n, block in enumerate(obj.get("content") or ()):
            _anthropic({"type": "content_block_start", "index": n, "content_block": block}, state)
        state.finish = obj.get("stop_reason") or state.finish
    elif kind == "content_block_start":
        block = obj.get("content_block") or {}
        if block.get("type") == "text":
            state.text.append(_str(block.get("text")))
        elif block.get("type") == "tool_use":
            given = block.get("input")
            state.call(obj.get("index"), _str(block.get("name")), given if given else "")
    elif kind == "content_block_delta":
        delta = obj.get("delta") or {}
        if delta.get("type") == "text_delta":
            state.text.append(_str(delta.get("text")))
        elif delta.get("type") == "input_json_delta":
            state.call(obj.get("index"), None, _str(delta.get("partial_json")))
    elif kind == "message_delta":
        state.finish = (obj.get("delta") or {}).get("stop_reason") or state.finish


def _gemini(obj: dict[str, Any], state: _State) -> None:
    for candidate in (obj.get("candidates") or ())[:1]:
        for part in (candidate.get("content") or {}).get("parts") or ():
            if "text" in part and not part.get("thought"):
                state.text.append(_str(part.get("text")))
            elif isinstance(part.get("functionCall"), dict):
                call = part["functionCall"]
                state.call(len(state.calls), _str(call.get("name")), call.get("args") or {})
        if candidate.get("finishReason"):
            state.finish = str(candidate["finishReason"])


def _ollama(obj: dict[str, Any], state: _State) -> None:
    message = obj.get("message")
    if isinstance(message, dict):
        state.text.append(_str(message.get("content")))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            state.call(len(state.calls), _str(function.get("name")), function.get("arguments"))
    else:
        state.text.append(_str(obj.get("response")))
    if obj.get("done_reason"):
        state.finish = str(obj["done_reason"])


def _cohere(obj: dict[str, Any], state: _State) -> None:
    kind = obj.get("type")
    message = ((obj.get("delta") or {}).get("message")) or {}
    if kind is None and isinstance(obj.get("message"), dict):  # a JSON answer
        for content in obj["message"].get("content") or ():
            if isinstance(content, dict) and content.get("type") == "text":
                state.text.append(_str(content.get("text")))
        for call in obj["message"].get("tool_calls") or ():
            function = call.get("function") or {}
            state.call(len(state.calls), _str(function.get("name")), function.get("arguments"))
        state.finish = obj.get("finish_reason") or state.finish
    elif kind == "content-delta":
        state.text.append(_str((message.get("content") or {}).get("text")))
    elif kind in ("tool-call-start", "tool-call-delta"):
        function = (message.get("tool_calls") or {}).get("function") or {}
        state.call(obj.get("index"), function.get("name"), _str(function.get("arguments")))
    elif kind == "message-end":
        state.finish = (obj.get("delta") or {}).get("finish_reason") or state.finish


_READERS = {
    "openai": _openai,
    "responses": _responses,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "ollama": _ollama,
    "cohere": _cohere,
}
