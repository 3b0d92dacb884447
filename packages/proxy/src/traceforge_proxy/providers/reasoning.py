"""OpenAI ``reasoning_effort`` in each converted provider's terms.

OpenAI's values (``openai.types.shared.ReasoningEffort``, https://platform.openai.com/docs/
api-reference/chat/create#chat-create-reasoning_effort): ``none``, ``minimal``, ``low``,
``medium``, ``high``, ``xhigh``, ``max``. Providers that take a thinking budget in tokens
(Anthropic ``thinking.budget_tokens``, https://docs.anthropic.com/en/docs/build-with-claude/
extended-thinking; Gemini 2.x ``thinkingConfig.thinkingBudget``,
https://ai.google.dev/gemini-api/docs/thinking; Cohere ``thinking.token_budget``,
https://docs.cohere.com/docs/reasoning) get :data:`THINKING_BUDGETS`; Gemini 3 takes a
``thinkingLevel`` (:data:`GEMINI_LEVELS`); Ollama a ``think`` switch, or a level for
``gpt-oss`` models (https://github.com/ollama/ollama/blob/main/docs/api.md).
"""

from __future__ import annotations

from typing import Any

from traceforge_proxy.providers.base import ProviderError

__all__ = [
    "GEMINI_LEVELS",
    "MIN_ANTHROPIC_BUDGET",
    "REASONING_EFFORTS",
    "THINKING_BUDGETS",
    "reasoning_effort",
]

#: OpenAI ``reasoning_effort`` values, least to most.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")

#: ``reasoning_effort`` -> thinking budget in tokens (``none``: thinking off). Anthropic's
#: minimum budget is 1024 tokens; Gemini 2.5 Flash's maximum 24576.
THINKING_BUDGETS = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 24576,
}

#: Anthropic rejects ``budget_tokens`` below this.
MIN_ANTHROPIC_BUDGET = 1024

#: ``reasoning_effort`` -> Gemini 3 ``thinkingLevel`` (``low`` and ``high`` are the levels
#: every Gemini 3 model takes; Gemini 3 cannot turn thinking off, so ``none`` is ``low``).
GEMINI_LEVELS = {"none": "low", "minimal": "low", "low": "low"}
GEMINI_LEVELS |= dict.fromkeys(("medium", "high", "xhigh", "max"), "high")


def reasoning_effort(request: dict[str, Any]) -> str | None:
    """The request's ``reasoning_effort``, or ``None`` when absent.

    Raises:
        ProviderError: (400, ``param`` ``reasoning_effort``) a value OpenAI does not define.
    """
    effort = request.get("reasoning_effort")
    if effort is None or effort in REASONING_EFFORTS:
        return effort
    message = f"reasoning_effort: {effort!r} is not one of {', '.join(REASONING_EFFORTS)}"
    error = {"message": message, "type": "invalid_request_error"}
    error |= {"param": "reasoning_effort", "code": "invalid_value"}
    raise ProviderError(400, {"error": error})
