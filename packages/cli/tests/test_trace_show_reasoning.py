"""``traceforge trace show`` gives the answer's reasoning its own section, whichever field the
provider used (``reasoning_content``: DeepSeek, xAI, converted answers; ``reasoning``: Groq)."""

from __future__ import annotations

import time

import msgspec
import pytest
from click.testing import CliRunner

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

#: The opening of the reasoning in Groq's recorded qwen3-32b stream
#: (packages/proxy/tests/data/provider-streams/groq/chat-stream-reasoning.sse).
THOUGHT = "Okay, let me try to figure out how many times the letter 'r' appears"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_show_has_a_reasoning_section(store: TraceStore, field: str) -> None:
    trace = make_trace(model="qwen/qwen3-32b", epoch_s=time.time(), text="The answer is 3.")
    response = msgspec.json.decode(msgspec.json.encode(trace.response))
    response["choices"][0]["message"][field] = THOUGHT
    trace = msgspec.structs.replace(trace, response=response)
    store.save(trace)
    result = CliRunner().invoke(cli, ["trace", "show", trace.id], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    title = next(i for i, line in enumerate(lines) if "Reasoning" in line)
    assert THOUGHT in lines[title + 1]


def test_show_has_no_reasoning_section_without_reasoning(store: TraceStore) -> None:
    trace = make_trace(model="gpt-4o", epoch_s=time.time(), text="plain")
    store.save(trace)
    result = CliRunner().invoke(cli, ["trace", "show", trace.id])
    assert result.exit_code == 0, result.output
    assert "Reasoning" not in result.output
