"""A chat call as a person reads it: the messages by role, tool calls, then the answer.

It reads the trace's chat completion view (:mod:`traceforge_shared.chat_view`), so a
Responses API call shows its ``instructions``, ``input`` items and output the same way.

Answers and assistant messages are Markdown as the models write them (``**bold**``, lists,
code blocks): they are rendered with Rich's :class:`~rich.markdown.Markdown` in one
:class:`~textual.widgets.Static` per message (Textual's ``Markdown`` widget mounts a widget per
paragraph and was a third of the CPU time of opening a trace, ``bench/tui_scale.py``), or shown
as the raw text the model sent when :attr:`ConversationView.raw` is set. Only the first
:data:`MARKDOWN_LIMIT` characters of a message are rendered as Markdown; the rest follows as
plain text (a long answer opens as fast as a short one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from traceforge_shared.chat_view import chat_request, chat_response
from traceforge_shared.trace import Trace
from traceforge_tui import formatting as fmt

#: Characters of a message rendered as Markdown; the rest is shown as plain text.
MARKDOWN_LIMIT = 8000


@dataclass(frozen=True)
class Block:
    """One block of the conversation.

    Attributes:
        kind: ``system``, ``user``, ``assistant``, ``tool``, ``tools`` (the tools offered),
            ``answer``, ``error`` or ``note``; the block's CSS class is ``-<kind>``.
        title: the block's title (the role, and what else identifies it).
        body: the block's text (raw: as the model wrote it).
        markdown: the block's text content as Markdown (answers and assistant messages whose
            content is text), ``None`` for the others.
        extra: what follows the Markdown when it is rendered (the tool calls).
    """

    kind: str
    title: str
    body: Text
    markdown: str | None = None
    extra: Text | None = None


def content_text(content: Any) -> Text:
    """A message's ``content`` as text: a string as is; content parts joined, with
    ``[image]``-style placeholders for what is not text; anything else as JSON."""
    if content is None:
        return Text()
    if isinstance(content, str):
        return Text(content)
    if isinstance(content, list):
        text = Text()
        for part in content:
            if text:
                text.append("\n")
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                text.append(part["text"])
            elif isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url", "") if isinstance(image, dict) else ""
                text.append(f"[image {fmt.one_line(str(url), 40)}]", style="italic dim")
            elif isinstance(part, dict):
                text.append(f"[{part.get('type', 'part')}]", style="italic dim")
            else:
                text.append(str(part))
        return text
    return Text(fmt.pretty_json(content))


def arguments_text(arguments: Any) -> str:
    """Tool call arguments as indented JSON when they are JSON text, else as they are."""
    if isinstance(arguments, str):
        try:
            return fmt.pretty_json(json.loads(arguments))
        except ValueError:
            return arguments
    return fmt.pretty_json(arguments)


def tool_calls_text(message: dict[str, Any]) -> Text:
    """The tool calls of an assistant message (``tool_calls``, or the older
    ``function_call``): ``→ name  (id)`` and the arguments below."""
    calls: list[tuple[str, str, Any]] = []
    tool_calls = message.get("tool_calls")
    for call in tool_calls if isinstance(tool_calls, list) else []:
        if isinstance(call, dict):
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            calls.append(
                (str(function.get("name", "?")), str(call.get("id", "")), function.get("arguments"))
            )
    function_call = message.get("function_call")
    if isinstance(function_call, dict):
        calls.append((str(function_call.get("name", "?")), "", function_call.get("arguments")))
    text = Text()
    for name, call_id, arguments in calls:
        if text:
            text.append("\n")
        text.append("→ ", style="bold")
        text.append(name, style="bold magenta")
        if call_id:
            text.append(f"  ({call_id})", style="dim")
        if arguments not in (None, ""):
            text.append("\n" + arguments_text(arguments))
    return text


def _joined(*parts: Text) -> Text:
    text = Text()
    for part in parts:
        if part:
            if text:
                text.append("\n")
            text.append_text(part)
    return text


def message_block(message: Any) -> Block:
    """One request message as a block titled by its role."""
    if not isinstance(message, dict):
        return Block("note", "message", Text(fmt.pretty_json(message)))
    role = str(message.get("role", "message"))
    title = role
    if message.get("name"):
        title += f" · {message['name']}"
    if role == "tool" and message.get("tool_call_id"):
        title += f" · result of {message['tool_call_id']}"
    content = message.get("content")
    calls = tool_calls_text(message)
    body = _joined(content_text(content), calls)
    kind = role if role in ("system", "developer", "user", "assistant", "tool") else "note"
    if kind == "developer":
        kind = "system"
    markdown = content if kind == "assistant" and isinstance(content, str) and content else None
    return Block(kind, title, body or Text("(empty)", style="dim"), markdown, calls or None)


def tools_block(tools: list[Any]) -> Block:
    """The tools the request offered the model: ``name — description`` lines."""
    text = Text()
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        spec = function if isinstance(function, dict) else tool if isinstance(tool, dict) else {}
        if text:
            text.append("\n")
        text.append(str(spec.get("name", "?")), style="bold magenta")
        if spec.get("description"):
            text.append(f" — {fmt.one_line(str(spec['description']), 80)}")
    return Block("tools", "tools offered", text)


def answer_blocks(trace: Trace) -> list[Block]:
    """The answer: the first choice's message (text and tool calls) titled with its finish
    reason; the error when there is no answer."""
    response = chat_response(trace)
    choices = response.get("choices") if isinstance(response, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        message = choice.get("message")
        message = message if isinstance(message, dict) else {}
        title = "answer"
        if choice.get("finish_reason"):
            title += f" · finish: {choice['finish_reason']}"
        if len(choices) > 1:
            title += f" · 1 of {len(choices)} choices"
        content = message.get("content")
        calls = tool_calls_text(message)
        body = _joined(content_text(content), calls)
        markdown = content if isinstance(content, str) and content else None
        return [
            Block("answer", title, body or Text("(no text)", style="dim"), markdown, calls or None)
        ]
    error = trace.metadata.error
    if error is not None:
        return [Block("error", "no answer", Text(f"{error.type}: {error.message}"))]
    if isinstance(response, dict) and "error" in response:
        return [Block("error", "no answer", Text(fmt.pretty_json(response["error"])))]
    if response is None:
        return [Block("note", "no answer", Text("No answer was recorded.", style="dim"))]
    return [Block("note", "answer", Text("Not a chat completion: see the Response tab."))]


def conversation_blocks(trace: Trace) -> list[Block]:
    """The blocks of the Conversation tab, in reading order."""
    request = chat_request(trace)
    blocks: list[Block] = []
    messages = request.get("messages") if isinstance(request, dict) else None
    if isinstance(messages, list):
        tools = request.get("tools") if isinstance(request, dict) else None
        if isinstance(tools, list) and tools:
            blocks.append(tools_block(tools))
        blocks.extend(message_block(message) for message in messages)
    else:
        blocks.append(Block("note", "request", Text("Not a chat request: see the Request tab.")))
    blocks.extend(answer_blocks(trace))
    return blocks


def markdown_renderable(block: Block) -> RenderableType:
    """``block``'s Markdown rendered by Rich (its first :data:`MARKDOWN_LIMIT` characters;
    the rest as plain text after a dim note), then its :attr:`Block.extra` (tool calls)."""
    source = block.markdown or ""
    parts: list[RenderableType] = [Markdown(source[:MARKDOWN_LIMIT])]
    if len(source) > MARKDOWN_LIMIT:
        rest = len(source) - MARKDOWN_LIMIT
        parts.append(Text(f"… {rest:,} more characters, not rendered:", style="dim"))
        parts.append(Text(source[MARKDOWN_LIMIT:]))
    if block.extra:
        parts.append(block.extra)
    return Group(*parts)


class ConversationView(VerticalScroll):
    """The :func:`conversation_blocks` of ``trace``, each in a titled box.

    Attributes:
        raw: show answers and assistant messages as the raw text the model sent instead of
            rendered Markdown (the detail screen's ``m`` key flips it).
    """

    raw: reactive[bool] = reactive(False, recompose=True)

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.blocks = conversation_blocks(trace)

    def compose(self) -> ComposeResult:
        """One Static per block, class ``message -<kind>``, titled; Markdown rendered
        (:func:`markdown_renderable`) with the extra class ``-markdown`` unless :attr:`raw`."""
        for block in self.blocks:
            if block.markdown is not None and not self.raw:
                widget = Static(
                    markdown_renderable(block), classes=f"message -{block.kind} -markdown"
                )
            else:
                widget = Static(block.body, classes=f"message -{block.kind}")
            widget.border_title = block.title
            yield widget
