"""The Responses stream rebuild against the openai SDK's own accumulator.

Every recorded Responses stream (text, function call, reasoning with encrypted content and a
summary plus function calls, web search with annotations, incomplete) is fed to
:class:`~traceforge_proxy.responses_accumulate.ResponsesAccumulator` and to openai-python's
``ResponseStreamState`` (what ``client.responses.stream(...).get_final_response()`` uses);
both must give the same ``Response``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai import omit
from openai._models import construct_type, construct_type_unchecked
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from traceforge_proxy.responses_accumulate import ResponsesAccumulator

RESPONSES = Path(__file__).parent / "data" / "provider-streams" / "openai-responses"
STREAMS = [
    "stream-text.sse",
    "stream-function-call.sse",
    "stream-reasoning-function-calls.sse",
    "stream-web-search.sse",
    "stream-incomplete.sse",
]


def _event(payload: dict[str, Any]) -> Any:
    """One event as the SDK's ``Stream`` builds it from the wire (``construct_type``)."""
    return construct_type(type_=ResponseStreamEvent, value=payload)


def _events(name: str) -> list[dict[str, Any]]:
    """The decoded ``data:`` payloads of a recorded SSE transcript, in order."""
    text = (RESPONSES / name).read_text()
    return [
        json.loads(line[len("data: ") :])
        for block in text.split("\n\n")
        for line in block.splitlines()
        if line.startswith("data: ")
    ]


def _plain(value: Any) -> Any:
    """A dumped SDK object without the fields only the SDK's parsing adds (``parsed``,
    ``parsed_arguments``: ``None`` unless a ``text_format`` or pydantic tool was given)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in ("parsed", "parsed_arguments")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _sdk_final(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The final response as the openai SDK's stream state builds it: the completed
    response, or the terminal ``response.incomplete``/``failed`` event's response."""
    state: ResponseStreamState[object] = ResponseStreamState(input_tools=[], text_format=omit)
    final: Any = None
    for payload in events:
        for event in state.handle_event(_event(payload)):
            if event.type in ("response.completed", "response.incomplete", "response.failed"):
                final = event.response
    assert final is not None
    dumped: dict[str, Any] = _plain(final.model_dump(mode="json"))
    return dumped


def _ours(events: list[dict[str, Any]]) -> dict[str, Any]:
    accumulator = ResponsesAccumulator()
    for payload in events:
        kind = ResponsesAccumulator.kind(None, payload)
        assert kind is not None
        accumulator.add(kind, payload)
    result = accumulator.result()
    assert result is not None
    # Built as the SDK builds its own (lenient: 2025 recordings lack fields newer SDK types
    # require, like ``usage.input_tokens_details.cache_write_tokens``).
    response = construct_type_unchecked(type_=Response, value=result)
    dumped: dict[str, Any] = _plain(response.model_dump(mode="json"))
    return dumped


@pytest.mark.parametrize("name", STREAMS)
def test_rebuild_equals_the_sdk_accumulator(name: str) -> None:
    events = _events(name)
    assert _ours(events) == _sdk_final(events)


def _without_final_output(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with the terminal event's ``response.output`` set to ``None``."""
    last = events[-1]
    return [*events[:-1], {**last, "response": {**last["response"], "output": None}}]


@pytest.mark.parametrize("name", STREAMS)
def test_rebuild_without_output_in_the_terminal_event(name: str) -> None:
    """The terminal event's ``response`` without ``output``: the SDK recovers the finished
    items from the events (``output_item.done``), and so does the rebuild."""
    events = _without_final_output(_events(name))
    ours = _ours(events)
    assert ours == _sdk_final(events)
    assert ours["output"]  # every recording has output


@pytest.mark.parametrize("name", STREAMS)
def test_stream_cut_off_before_its_terminal_event(name: str) -> None:
    """Without the terminal event: the last running ``response`` with every item as the
    events built it (the finished items the SDK would recover)."""
    events = _events(name)
    ours = _ours(events[:-1])
    final = _sdk_final(_without_final_output(events))
    assert ours["status"] == "in_progress"
    assert ours["id"] == final["id"]
    assert ours["output"] == final["output"]


def test_items_are_built_from_deltas_before_they_are_done() -> None:
    """Cut just before each ``output_item.done``: the open item has the text, arguments or
    summary its deltas carried so far, and matches the SDK's snapshot of it."""
    events = _events("stream-reasoning-function-calls.sse")
    done = [i for i, e in enumerate(events) if e["type"] == "response.output_item.done"]
    state: ResponseStreamState[object] = ResponseStreamState(input_tools=[], text_format=omit)
    cut = done[1]  # the function call after the reasoning item, open
    snapshot: Any = None
    for payload in events[:cut]:
        state.handle_event(_event(payload))
        snapshot = state._ResponseStreamState__current_snapshot  # type: ignore[attr-defined]
    ours = _ours(events[:cut])
    item = events[cut]["item"]
    assert item["type"] == "function_call"
    open_item = ours["output"][events[cut]["output_index"]]
    assert open_item["arguments"] == item["arguments"]
    sdk_item = snapshot.output[events[cut]["output_index"]]
    assert open_item["arguments"] == sdk_item.arguments
    reasoning = ours["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["summary"][0]["text"]
    assert reasoning["encrypted_content"]
