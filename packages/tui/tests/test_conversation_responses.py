"""A Responses API trace in the trace detail's Conversation tab: the ``instructions``, the
``input`` items (messages, a function call and its output) and the ``response`` output, read
through the shared chat completion view.

The answer is OpenAI's recorded ``response`` (the mock upstream's
``openai-responses/stream-function-call.sse``: a ``weather`` call for San Francisco); the
request is what the openai SDK sends for a second turn.
"""

from __future__ import annotations

import msgspec

from traceforge_proxy.mock_upstream.openai_responses import FUNCTION_CALL_STREAM, final_response
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui import make_app
from traceforge_tui.screens.trace_detail import TraceDetailScreen
from traceforge_tui.widgets.conversation import ConversationView, conversation_blocks

from .helpers import settle
from .sample import BASE_EPOCH, SIZE

REQUEST = {
    "model": "gpt-5.1",
    "instructions": "You are a weather bot.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "weather",
            "arguments": '{"location":"Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 18}'},
        {"role": "user", "content": "And San Francisco?"},
    ],
    "tools": [
        {
            "type": "function",
            "name": "weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        }
    ],
    "stream": True,
}


def _responses_trace() -> Trace:
    trace = make_trace(model="gpt-5.1", epoch_s=BASE_EPOCH)
    return msgspec.structs.replace(
        trace,
        endpoint="/v1/responses",
        request=REQUEST,
        response=final_response(FUNCTION_CALL_STREAM),
    )


def test_blocks_of_a_responses_trace() -> None:
    trace = _responses_trace()
    blocks = conversation_blocks(trace)
    assert [(b.kind, b.title) for b in blocks] == [
        ("tools", "tools offered"),
        ("system", "system"),
        ("user", "user"),
        ("assistant", "assistant"),
        ("tool", "tool · result of call_1"),
        ("user", "user"),
        ("answer", "answer · finish: tool_calls"),
    ]
    assert blocks[0].body.plain == "weather — Weather for a city"
    assert blocks[1].body.plain == "You are a weather bot."
    assert blocks[2].body.plain == "Weather in Paris?"
    assert blocks[3].body.plain == '→ weather  (call_1)\n{\n  "location": "Paris"\n}'
    answer = blocks[-1].body.plain
    assert answer.startswith("→ weather  (call_")
    assert '"location": "San Francisco"' in answer


async def test_conversation_tab_shows_a_responses_trace(store: TraceStore) -> None:
    trace = _responses_trace()
    store.save(trace)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(TraceDetailScreen(store, trace.id))
        await settle(pilot)
        blocks = app.screen.query_one("#conversation", ConversationView).blocks
        assert blocks[-1].kind == "answer"
        assert "Not a chat" not in " ".join(b.body.plain for b in blocks)
