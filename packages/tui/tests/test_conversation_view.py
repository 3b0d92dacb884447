"""The Conversation tab's widget on its own: one widget per message, Markdown rendered for
assistant messages and answers only, the raw toggle, and long answers."""

from __future__ import annotations

import io
from typing import Any

import msgspec
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace
from traceforge_tui.widgets.conversation import (
    MARKDOWN_LIMIT,
    ConversationView,
    conversation_blocks,
    markdown_renderable,
)

from .screen import widget_lines

ANSWER = (
    "# Plan\n\n1. **Check** the logs\n2. Run `grep -n error app.log`\n\n```sh\ntail -f app.log\n```"
)


def chat_trace(answer: str = ANSWER) -> Trace:
    """A chat completion with tools, a system prompt, a user message, an assistant tool call,
    the tool's result and a Markdown answer."""
    request = {
        "model": "gpt-4o",
        "tools": [{"type": "function", "function": {"name": "search", "description": "Find"}}],
        "messages": [
            {"role": "system", "content": "You are **terse**."},
            {"role": "user", "content": "Why does it *fail*?"},
            {
                "role": "assistant",
                "content": "Let me **look**.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "search", "arguments": '{"q": "error"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "3 errors"},
        ],
    }
    response = {
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": answer},
            }
        ],
    }
    return msgspec.structs.replace(make_trace(), request=request, response=response)


class _ViewApp(App[None]):
    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace

    def compose(self) -> ComposeResult:
        yield ConversationView(self.trace, id="conversation")


def shown(app: App[Any], widget: Static) -> str:
    return "\n".join(widget_lines(app, widget))


async def test_one_widget_per_message_titled_by_role() -> None:
    app = _ViewApp(chat_trace())
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.pause()
        view = app.query_one(ConversationView)
        messages = list(view.children)
        assert all(isinstance(widget, Static) and not widget.children for widget in messages)
        assert [widget.border_title for widget in messages] == [
            "tools offered",
            "system",
            "user",
            "assistant",
            "tool · result of call_1",
            "answer · finish: stop",
        ]
        assert [sorted(widget.classes) for widget in messages] == [
            ["-tools", "message"],
            ["-system", "message"],
            ["-user", "message"],
            ["-assistant", "-markdown", "message"],
            ["-tool", "message"],
            ["-answer", "-markdown", "message"],
        ]


async def test_answers_are_rendered_markdown_and_prompts_are_not() -> None:
    app = _ViewApp(chat_trace())
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.pause()
        view = app.query_one(ConversationView)
        answer = view.query_one(".-answer", Static)
        text = shown(app, answer)
        assert "Plan" in text and "# Plan" not in text
        assert "Check the logs" in text and "**" not in text
        assert "tail -f app.log" in text and "```" not in text

        assistant = shown(app, view.query_one(".-assistant", Static))
        assert "Let me look." in assistant
        assert "→ search  (call_1)" in assistant and '"q": "error"' in assistant

        assert "Why does it *fail*?" in shown(app, view.query_one(".-user", Static))
        assert "You are **terse**." in shown(app, view.query_one(".-system", Static))


async def test_raw_shows_the_text_the_model_sent_and_flips_back() -> None:
    app = _ViewApp(chat_trace())
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.pause()
        view = app.query_one(ConversationView)

        view.raw = True
        await pilot.pause()
        assert not view.query(".-markdown")
        raw = shown(app, view.query_one(".-answer", Static))
        assert "# Plan" in raw and "1. **Check** the logs" in raw and "```sh" in raw
        assert len(view.children) == 6  # still one widget per message

        view.raw = False
        await pilot.pause()
        assert len(view.query(".-markdown")) == 2
        assert "**" not in shown(app, view.query_one(".-answer", Static))


def test_a_long_answer_renders_its_start_as_markdown_and_the_rest_as_text() -> None:
    tail = "**tail stays raw**"
    answer = "**bold start**\n\n" + "x" * MARKDOWN_LIMIT + "\n" + tail
    block = conversation_blocks(chat_trace(answer))[-1]
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    console.print(markdown_renderable(block))
    text = console.export_text()
    assert text.startswith("bold start")
    rest = len(answer) - MARKDOWN_LIMIT
    assert f"… {rest:,} more characters, not rendered:" in text
    assert text.rstrip().endswith(tail)
