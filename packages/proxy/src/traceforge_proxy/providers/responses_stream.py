"""OpenAI ``chat.completion.chunk`` objects -> Responses API stream events.

The stream half of the Responses conversion: a provider's stream goes through its chat
adapter's converter (provider events -> chat chunks) and then through
:class:`ResponsesStreamConverter` (chat chunks -> Responses events), so the client gets what
OpenAI's Responses API streams (https://platform.openai.com/docs/api-reference/
responses-streaming; ground truth ``openai.types.responses.ResponseStreamEvent``):

``response.created``, ``response.in_progress``; per output item ``response.output_item.added``
… ``response.output_item.done``, with, for a ``reasoning`` item,
``response.reasoning_summary_part.added``, ``response.reasoning_summary_text.delta`` /
``.done``, ``response.reasoning_summary_part.done``; for a ``message``,
``response.content_part.added``, ``response.output_text.delta`` / ``.done``,
``response.content_part.done``; for a ``function_call``,
``response.function_call_arguments.delta`` / ``.done``; then ``response.completed`` (or
``response.incomplete`` when the answer was cut by the token limit) with the whole response
and its ``usage``. Every event has a ``sequence_number`` (0, 1, ...). A provider error
mid-stream becomes an ``error`` event (``{"type": "error", "error": {...}}``, as OpenAI sends
it; the openai SDK raises ``APIError`` on it) and ``response.failed``.

A reasoning or message item is closed when the next item opens; function calls stay open
until the stream ends (chat streams may interleave their argument fragments).
"""

from __future__ import annotations

from typing import Any

from traceforge_proxy.providers.base import ProviderError, StreamConverter, StreamUsage
from traceforge_proxy.providers.responses_answer import (
    CONVERTED_ID_PREFIX,
    function_call_item,
    message_item,
    reasoning_item,
    response_id,
    response_object,
    response_status,
    response_usage,
)

__all__ = ["ResponsesStreamConverter"]


class _Item:
    """One output item being streamed."""

    __slots__ = ("blocks", "call_id", "id", "index", "kind", "name", "parts")

    def __init__(self, kind: str, index: int, item_id: str) -> None:
        self.kind = kind
        self.index = index
        self.id = item_id
        self.parts: list[str] = []
        self.blocks: list[Any] = []
        self.call_id: Any = None
        self.name: Any = None

    def text(self) -> str:
        return "".join(self.parts)

    def done(self, status: str = "completed") -> dict[str, Any]:
        """The finished item."""
        if self.kind == "reasoning":
            return reasoning_item(self.id, self.text(), self.blocks or None)
        if self.kind == "message":
            return message_item(self.id, self.text(), status)
        return function_call_item(self.id, self.call_id, self.name, self.text(), status)


class ResponsesStreamConverter:
    """Wraps a chat adapter's :class:`~traceforge_proxy.providers.base.StreamConverter`:
    each provider event is converted to chat chunks by it, and the chunks to Responses
    events here. Implements the same protocol, so the relay and the exchange use it as any
    converter.

    Args:
        inner: the chat adapter's stream converter (created with ``include_usage=True``).
        request: the client's Responses request (its settings are echoed in ``response``).
        provider: the provider (part of the response id).
        model: the model asked for (until the provider names its own).
        created: ``created_at``, epoch seconds.
    """

    def __init__(
        self,
        inner: StreamConverter,
        request: dict[str, Any],
        *,
        provider: str,
        model: str,
        created: int,
    ) -> None:
        self._inner = inner
        self._request = request
        self._provider = provider
        self._model = model
        self._created = created
        self._id: str | None = None
        self._sequence = 0
        self._items: list[_Item] = []
        self._open: _Item | None = None  # the open reasoning or message item
        self._calls: dict[int, _Item] = {}
        self._finish: Any = None
        self._usage: dict[str, Any] | None = None
        #: The provider's usage so far: the inner converter's (updated in place by it).
        self.usage: StreamUsage = inner.usage
        #: The provider's error, once the stream carried one (the inner converter's).
        self.error: ProviderError | None = None

    # -- events ----------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        assert self._id is not None
        return response_object(
            self._request,
            id=self._id,
            created=self._created,
            model=self._model,
            status=status,
            output=[item.done() for item in self._items] if status != "in_progress" else [],
            **extra,
        )

    def _start(self, chunk: dict[str, Any], out: list[dict[str, Any]]) -> None:
        if self._id is not None:
            return
        self._id = response_id(self._provider, chunk.get("id"))
        model = chunk.get("model")
        if isinstance(model, str) and model:
            self._model = model
        response = self._response("in_progress")
        out.append(self._event("response.created", response=response))
        out.append(self._event("response.in_progress", response=response))

    def _item_id(self, prefix: str) -> str:
        assert self._id is not None
        return f"{prefix}_{self._id.removeprefix(CONVERTED_ID_PREFIX)}_{len(self._items)}"

    def _open_item(self, kind: str, out: list[dict[str, Any]]) -> _Item:
        open_item = self._open
        if open_item is not None and open_item.kind == kind:
            return open_item
        self._close_open(out)
        prefix = {"reasoning": "rs", "message": "msg", "function_call": "fc"}[kind]
        item = _Item(kind, len(self._items), self._item_id(prefix))
        self._items.append(item)
        if kind != "function_call":
            self._open = item
        if kind == "reasoning":
            added = {"id": item.id, "type": "reasoning", "summary": []}
            out.append(
                self._event("response.output_item.added", output_index=item.index, item=added)
            )
            out.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=item.id,
                    output_index=item.index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
        elif kind == "message":
            added = {**message_item(item.id, "", "in_progress"), "content": []}
            out.append(
                self._event("response.output_item.added", output_index=item.index, item=added)
            )
            out.append(
                self._event(
                    "response.content_part.added",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                )
            )
        return item

    def _close_open(self, out: list[dict[str, Any]]) -> None:
        item, self._open = self._open, None
        if item is None:
            return
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "reasoning":
            text = item.text()
            out.append(
                self._event(
                    "response.reasoning_summary_text.done", **where, summary_index=0, text=text
                )
            )
            out.append(
                self._event(
                    "response.reasoning_summary_part.done",
                    **where,
                    summary_index=0,
                    part={"type": "summary_text", "text": text},
                )
            )
        else:
            done = item.done()
            part = done["content"][0]
            out.append(
                self._event(
                    "response.output_text.done",
                    **where,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
            )
            out.append(
                self._event("response.content_part.done", **where, content_index=0, part=part)
            )
        out.append(
            self._event("response.output_item.done", output_index=item.index, item=item.done())
        )

    def _chunk(self, chunk: dict[str, Any], out: list[dict[str, Any]]) -> None:
        self._start(chunk, out)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict):
                continue
            if choice.get("finish_reason") is not None:
                self._finish = choice["finish_reason"]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(delta, out)

    def _delta(self, delta: dict[str, Any], out: list[dict[str, Any]]) -> None:
        reasoning = delta.get("reasoning_content")
        blocks = delta.get("thinking_blocks")
        if (isinstance(reasoning, str) and reasoning) or isinstance(blocks, list):
            item = self._open_item("reasoning", out)
            if isinstance(reasoning, str) and reasoning:
                item.parts.append(reasoning)
                out.append(
                    self._event(
                        "response.reasoning_summary_text.delta",
                        item_id=item.id,
                        output_index=item.index,
                        summary_index=0,
                        delta=reasoning,
                    )
                )
            if isinstance(blocks, list):
                item.blocks.extend(blocks)
        content = delta.get("content")
        if isinstance(content, str) and content:
            item = self._open_item("message", out)
            item.parts.append(content)
            out.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    delta=content,
                    logprobs=[],
                )
            )
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                self._tool_call(call, out)

    def _tool_call(self, call: dict[str, Any], out: list[dict[str, Any]]) -> None:
        index = call.get("index")
        index = index if isinstance(index, int) else len(self._calls)
        found = call.get("function")
        function: dict[str, Any] = found if isinstance(found, dict) else {}
        item = self._calls.get(index)
        if item is None:
            self._close_open(out)
            item = self._calls[index] = _Item("function_call", len(self._items), "")
            item.id = self._item_id("fc")
            self._items.append(item)
            item.call_id = call.get("id")
            item.name = function.get("name")
            added = function_call_item(item.id, item.call_id, item.name, "", "in_progress")
            out.append(
                self._event("response.output_item.added", output_index=item.index, item=added)
            )
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.parts.append(arguments)
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item.id,
                    output_index=item.index,
                    delta=arguments,
                )
            )

    # -- the StreamConverter protocol -------------------------------------------------------

    def feed(self, event: str | None, payload: Any) -> list[dict[str, Any]]:
        """Convert one provider event into Responses events (see the module doc); after a
        provider error: the ``error`` event and ``response.failed``."""
        out: list[dict[str, Any]] = []
        for chunk in self._inner.feed(event, payload):
            if self._inner.error is not None:
                self.error = self._inner.error
                return out + self._failed(self._inner.error)
            self._chunk(chunk, out)
        return out

    def _failed(self, error: ProviderError) -> list[dict[str, Any]]:
        found = error.body.get("error") if isinstance(error.body, dict) else None
        body: dict[str, Any] = found if isinstance(found, dict) else {"message": str(error)}
        out: list[dict[str, Any]] = []
        if self._id is None:
            self._start({}, out)
        code = body.get("code") or body.get("type") or "server_error"
        message = str(body.get("message") or error)
        out.append(
            self._event(
                "error",
                error={
                    "type": body.get("type") or "server_error",
                    "code": code,
                    "message": message,
                    "param": body.get("param"),
                },
            )
        )
        failed = self._response("failed", error={"code": str(code), "message": message})
        out.append(self._event("response.failed", response=failed))
        return out

    def close(self) -> list[dict[str, Any]]:
        """The provider's stream ended: close the open items and send
        ``response.completed`` (``response.incomplete`` for a ``length`` finish) with the
        output and usage; nothing after an error."""
        if self._inner.error is not None:
            return []
        out: list[dict[str, Any]] = []
        for chunk in self._inner.close():
            self._chunk(chunk, out)
        if self._id is None:
            self._start({}, out)
        self._close_open(out)
        for item in self._calls.values():
            done = item.done()
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=item.index,
                    name=item.name,
                    arguments=done["arguments"],
                )
            )
            out.append(self._event("response.output_item.done", output_index=item.index, item=done))
        status, incomplete = response_status(self._finish)
        usage = response_usage(self._usage if self._usage is not None else self.usage.as_openai())
        final = self._response(status, usage=usage, incomplete_details=incomplete)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        out.append(self._event(kind, response=final))
        return out
