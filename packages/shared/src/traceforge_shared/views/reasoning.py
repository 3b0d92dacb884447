"""The model's reasoning in a trace, for the "reasoning" section of trace views.

Chat completions carry it on the message under the name the provider uses:
``reasoning_content`` (DeepSeek, xAI, and the proxy's converted Anthropic, Gemini, Ollama and
Cohere answers) or ``reasoning`` (Groq, OpenRouter, vLLM). Responses API answers carry
``reasoning`` output items whose ``summary`` parts hold the text
(https://platform.openai.com/docs/api-reference/responses/object).
"""

from __future__ import annotations

from typing import Any

from traceforge_shared.trace import Trace

__all__ = ["reasoning_text"]


def _message_reasoning(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def reasoning_text(trace: Trace) -> str | None:
    """The reasoning of the trace's answer (every choice's, joined by blank lines; a
    Responses answer's reasoning summaries likewise), or ``None`` when it has none."""
    response = trace.response
    if not isinstance(response, dict):
        return None
    texts: list[str] = []
    choices = response.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if text := _message_reasoning(choice.get("message") if isinstance(choice, dict) else None):
            texts.append(text)
    output = response.get("output")
    for item in output if isinstance(output, list) else []:
        if isinstance(item, dict) and item.get("type") == "reasoning":
            summary = item.get("summary")
            for part in summary if isinstance(summary, list) else []:
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    texts.append(part["text"])
    return "\n\n".join(texts) or None
