"""The trace detail's "Reasoning" tab: shown when the answer has reasoning (Groq's
``reasoning`` field here), absent otherwise."""

from __future__ import annotations

import msgspec
from textual.widgets import TabbedContent, TabPane

from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_tui import make_app
from traceforge_tui.screens.trace_detail import TraceDetailScreen

from .helpers import settle, static_text
from .sample import BASE_EPOCH, SIZE

#: The opening of the reasoning in Groq's recorded qwen3-32b stream
#: (packages/proxy/tests/data/provider-streams/groq/chat-stream-reasoning.sse).
THOUGHT = "Okay, let me try to figure out how many times the letter 'r' appears"


async def test_reasoning_tab_shows_the_reasoning(store: TraceStore) -> None:
    trace = make_trace(model="qwen/qwen3-32b", epoch_s=BASE_EPOCH, text="3")
    response = msgspec.json.decode(msgspec.json.encode(trace.response))
    response["choices"][0]["message"]["reasoning"] = THOUGHT
    store.save(msgspec.structs.replace(trace, response=response))
    plain = make_trace(model="gpt-4o", epoch_s=BASE_EPOCH + 1, text="plain")
    store.save(plain)
    for trace_id, shown in ((trace.id, True), (plain.id, False)):
        app = make_app(store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await app.push_screen(TraceDetailScreen(store, trace_id))
            await settle(pilot)
            assert bool(app.screen.query(TabPane).filter("#tab-reasoning")) is shown
            if shown:
                app.screen.query_one("#detail-tabs", TabbedContent).active = "tab-reasoning"
                await settle(pilot)
                assert static_text(app, "#detail-reasoning") == THOUGHT
