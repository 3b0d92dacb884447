"""``traceforge trace show`` and the language server's hover on a Responses API trace: the
conversation and the answer come from the shared chat completion view.

The answer is OpenAI's recorded ``response`` (the mock upstream's
``openai-responses/response.json``, "Dummy PDF file"); the request is what the openai SDK
sends for ``responses.create(instructions=..., input=...)``.
"""

from __future__ import annotations

import time

import msgspec
from click.testing import CliRunner

from traceforge_cli.lsp.hover import trace_summary
from traceforge_cli.main import cli
from traceforge_proxy.mock_upstream.openai_responses import RESPONSE
from traceforge_proxy.mock_upstream.replay import transcript_bytes
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace


def _responses_trace() -> Trace:
    trace = make_trace(model="gpt-4.1-nano", epoch_s=time.time())
    return msgspec.structs.replace(
        trace,
        endpoint="/v1/responses",
        request={
            "model": "gpt-4.1-nano",
            "instructions": "Answer in three words.",
            "input": "What is in the attached file?",
        },
        response=msgspec.json.decode(transcript_bytes(RESPONSE)),
    )


def test_show_has_the_conversation_of_a_responses_trace(store: TraceStore) -> None:
    trace = _responses_trace()
    store.save(trace)
    result = CliRunner().invoke(cli, ["trace", "show", trace.id], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    title = next(i for i, line in enumerate(lines) if "Conversation (chat completion view)" in line)
    shown = "\n".join(lines[title + 1 : title + 4])
    assert "system: Answer in three words." in shown
    assert "user: What is in the attached file?" in shown
    assert "answer (finish: stop): Dummy PDF file" in shown


def test_show_of_a_chat_trace_has_no_extra_conversation(store: TraceStore) -> None:
    trace = make_trace(epoch_s=time.time(), text="plain")
    store.save(trace)
    result = CliRunner().invoke(cli, ["trace", "show", trace.id])
    assert result.exit_code == 0, result.output
    assert "chat completion view" not in result.output


def test_hover_summary_has_the_responses_answer(store: TraceStore) -> None:
    trace = _responses_trace()
    store.save(trace)
    summary = trace_summary(store, trace.id)
    assert summary is not None and "> Dummy PDF file" in summary
