"""Which OpenAI Chat Completions parameters each converted provider maps, accepts or rejects.

The parameter list is the request body of https://platform.openai.com/docs/api-reference/chat/create
(ground truth: ``openai.types.chat.completion_create_params.CompletionCreateParamsBase`` of the
``openai`` SDK, plus ``stream``). For each converted provider (``anthropic``, ``gemini``,
``ollama``, ``cohere``) a parameter is:

- ``mapped``: the adapter sends it in the provider's own terms (the table says where);
- ``accepted``: it changes nothing the provider could do (``store: false``, ``metadata``,
  prompt-cache hints); it is kept in the trace and not sent;
- ``rejected``: a 400 ``unsupported_parameter`` naming the parameter and the provider, unless
  its value is one that asks for nothing (the OpenAI default: ``n: 1``, ``logprobs: false``,
  an empty ``logit_bias``, ``parallel_tool_calls: true``...). With ``proxy.unsupported_params:
  drop`` such parameters are removed instead and the trace gets a warning listing them.

Parameters OpenAI does not define (a client's ``extra_body``) are not checked: adapters send
the ones they know and ignore the rest. ``docs/providers.md`` holds :func:`markdown_table`'s
output; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from traceforge_proxy.providers.base import ProviderError

__all__ = [
    "CONVERTED_PROVIDERS",
    "OPENAI_PARAMETERS",
    "PROVIDER_TITLES",
    "RULES",
    "Rule",
    "drop_unsupported",
    "dropped_warning",
    "markdown_table",
    "reject_unsupported",
    "unsupported",
    "unsupported_parameter",
]

#: Every top-level field of an OpenAI chat completion request, in the API reference's order.
OPENAI_PARAMETERS = (
    "messages",
    "model",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "moderation",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
)

#: The converted providers, by adapter name, and how messages name them.
PROVIDER_TITLES = {"anthropic": "Anthropic", "gemini": "Gemini", "ollama": "Ollama"}
PROVIDER_TITLES |= {"cohere": "Cohere"}
CONVERTED_PROVIDERS = tuple(PROVIDER_TITLES)

Kind = Literal["mapped", "accepted", "rejected"]


def _unset(value: Any) -> bool:
    return value is None


@dataclass(frozen=True)
class Rule:
    """What one provider does with one OpenAI parameter.

    Attributes:
        kind: ``mapped``, ``accepted`` (not sent, no effect) or ``rejected``.
        note: for the docs table: where it goes, or why it cannot.
        harmless: for ``rejected``: the values that ask for nothing and are accepted
            (``None`` is always accepted).
    """

    kind: Kind
    note: str = ""
    harmless: Callable[[Any], bool] = _unset

    def allows(self, value: Any) -> bool:
        """Whether ``value`` may go to the provider (mapped, accepted, or harmless)."""
        return self.kind != "rejected" or value is None or self.harmless(value)


def _mapped(note: str) -> Rule:
    return Rule("mapped", note)


def _accepted(note: str) -> Rule:
    return Rule("accepted", note)


def _rejected(note: str, harmless: Callable[[Any], bool] = _unset) -> Rule:
    return Rule("rejected", note, harmless)


def _is(*values: Any) -> Callable[[Any], bool]:
    return lambda value: any(value == v and type(value) is type(v) for v in values)


def _empty(value: Any) -> bool:
    return isinstance(value, dict | list) and not value


def _zero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


_ALL = CONVERTED_PROVIDERS


def _same(rule: Rule, providers: tuple[str, ...] = _ALL) -> dict[str, Rule]:
    return dict.fromkeys(providers, rule)


_TEXT_ONLY = _is(["text"])
_DEFAULT_TIER = _is("auto", "default")

#: parameter -> provider -> rule. Every parameter of :data:`OPENAI_PARAMETERS`, every provider.
RULES: dict[str, dict[str, Rule]] = {
    "messages": _same(_mapped("messages (system prompts where the provider wants them)")),
    "model": _same(_mapped("model (routing prefix removed)")),
    "audio": _same(_rejected("no audio output")),
    "frequency_penalty": {
        "anthropic": _rejected("no penalties in the Messages API", _zero),
        "gemini": _mapped("`generationConfig.frequencyPenalty`"),
        "ollama": _mapped("`options.frequency_penalty`"),
        "cohere": _mapped("`frequency_penalty`"),
    },
    "function_call": _same(_rejected("deprecated `functions`: use `tools`/`tool_choice`")),
    "functions": _same(_rejected("deprecated `functions`: use `tools`", _empty)),
    "logit_bias": _same(_rejected("no token biasing", _empty)),
    "logprobs": {
        **_same(_rejected("no log probabilities", _is(False))),
        "gemini": _mapped("`generationConfig.responseLogprobs`"),
    },
    "max_completion_tokens": {
        "anthropic": _mapped("`max_tokens` (default 4096; thinking budget added)"),
        "gemini": _mapped("`generationConfig.maxOutputTokens`"),
        "ollama": _mapped("`options.num_predict`"),
        "cohere": _mapped("`max_tokens`"),
    },
    "max_tokens": {
        "anthropic": _mapped("`max_tokens` (when no `max_completion_tokens`)"),
        "gemini": _mapped("`generationConfig.maxOutputTokens`"),
        "ollama": _mapped("`options.num_predict`"),
        "cohere": _mapped("`max_tokens`"),
    },
    "metadata": _same(_accepted("OpenAI stored-completion tags: kept in the trace")),
    "modalities": _same(_rejected("text output only", _TEXT_ONLY)),
    "moderation": _same(_rejected("no OpenAI moderation")),
    "n": {
        **_same(_rejected("one choice per request", _is(1))),
        "gemini": _mapped("`generationConfig.candidateCount`"),
    },
    "parallel_tool_calls": {
        **_same(_rejected("cannot turn parallel tool calls off", _is(True))),
        "anthropic": _mapped("`tool_choice.disable_parallel_tool_use`"),
    },
    "prediction": _same(_rejected("no predicted outputs")),
    "presence_penalty": {
        "anthropic": _rejected("no penalties in the Messages API", _zero),
        "gemini": _mapped("`generationConfig.presencePenalty`"),
        "ollama": _mapped("`options.presence_penalty`"),
        "cohere": _mapped("`presence_penalty`"),
    },
    "prompt_cache_key": _same(_accepted("OpenAI cache routing hint")),
    "prompt_cache_options": _same(_accepted("OpenAI cache hint")),
    "prompt_cache_retention": _same(_accepted("OpenAI cache hint")),
    "reasoning_effort": {
        "anthropic": _mapped("`thinking.budget_tokens` (see Reasoning below)"),
        "gemini": _mapped("`generationConfig.thinkingConfig` (see Reasoning below)"),
        "ollama": _mapped("`think`"),
        "cohere": _mapped("`thinking.token_budget`"),
    },
    "response_format": {
        "anthropic": _mapped("forced tool, or `output_config.format` with thinking"),
        "gemini": _mapped("`responseMimeType` + `responseSchema`/`responseJsonSchema`"),
        "ollama": _mapped('`format` (`"json"` or the schema)'),
        "cohere": _mapped("`response_format` (`json_object` + `json_schema`)"),
    },
    "safety_identifier": {
        **_same(_accepted("end-user id: kept in the trace")),
        "anthropic": _mapped("`metadata.user_id` (when no `user`)"),
    },
    "seed": {
        "anthropic": _rejected("no seed in the Messages API"),
        "gemini": _mapped("`generationConfig.seed`"),
        "ollama": _mapped("`options.seed`"),
        "cohere": _mapped("`seed`"),
    },
    "service_tier": _same(_rejected("no OpenAI service tiers", _DEFAULT_TIER)),
    "stop": {
        "anthropic": _mapped("`stop_sequences`"),
        "gemini": _mapped("`generationConfig.stopSequences`"),
        "ollama": _mapped("`options.stop`"),
        "cohere": _mapped("`stop_sequences`"),
    },
    "store": _same(_rejected("OpenAI stores completions; the trace is the record", _is(False))),
    "stream": _same(_mapped("the provider's stream, converted to chunks")),
    "stream_options": _same(_mapped("`include_usage`: the usage chunk")),
    "temperature": _same(_mapped("`temperature` (Ollama: `options.temperature`)")),
    "tool_choice": _same(_mapped("the provider's tool choice (see Conversion)")),
    "tools": _same(_mapped("function tools")),
    "top_logprobs": {
        **_same(_rejected("no log probabilities", _zero)),
        "gemini": _mapped("`generationConfig.logprobs`"),
    },
    "top_p": {
        "anthropic": _mapped("`top_p`"),
        "gemini": _mapped("`generationConfig.topP`"),
        "ollama": _mapped("`options.top_p`"),
        "cohere": _mapped("`p`"),
    },
    "user": {
        **_same(_accepted("end-user id: kept in the trace")),
        "anthropic": _mapped("`metadata.user_id`"),
    },
    "verbosity": _same(_rejected("no verbosity setting", _is("medium"))),
    "web_search_options": _same(_rejected("no OpenAI web search")),
}


def unsupported(request: Any, provider: str) -> list[str]:
    """The parameters of ``request`` (a decoded OpenAI request) that ``provider`` cannot
    take with the values given, in :data:`OPENAI_PARAMETERS` order; ``[]`` for providers
    without rules (OpenAI-compatible ones take every parameter)."""
    if not isinstance(request, dict) or provider not in PROVIDER_TITLES:
        return []
    return [
        name
        for name in OPENAI_PARAMETERS
        if name in request and not RULES[name][provider].allows(request[name])
    ]


def unsupported_parameter(name: str, provider: str) -> ProviderError:
    """The 400 for a parameter ``provider`` cannot take: OpenAI's error shape with ``param``
    = ``name`` and ``code`` = ``unsupported_parameter`` (as OpenAI answers one)."""
    title = PROVIDER_TITLES.get(provider, provider)
    reason = RULES[name][provider].note if name in RULES and provider in RULES[name] else ""
    message = (
        f"Unsupported parameter: '{name}' is not supported by {title}"
        + (f" ({reason})" if reason else "")
        + ". Remove it, or set proxy.unsupported_params: drop in .ai-tests/config.yaml to "
        "have the proxy drop it with a warning in the trace."
    )
    error = {
        "message": message,
        "type": "invalid_request_error",
        "param": name,
        "code": "unsupported_parameter",
    }
    return ProviderError(400, {"error": error})


def reject_unsupported(request: Any, provider: str) -> None:
    """Raise for the first parameter ``provider`` cannot take.

    Raises:
        ProviderError: (400, ``unsupported_parameter``) naming the parameter and provider.
    """
    names = unsupported(request, provider)
    if names:
        raise unsupported_parameter(names[0], provider)


def drop_unsupported(request: dict[str, Any], provider: str) -> tuple[dict[str, Any], list[str]]:
    """``request`` without the parameters ``provider`` cannot take (a new dict when any are
    dropped; ``request`` itself otherwise), and their names."""
    names = unsupported(request, provider)
    if not names:
        return request, []
    return {k: v for k, v in request.items() if k not in names}, names


def dropped_warning(provider: str, names: list[str]) -> str:
    """The trace warning for parameters dropped under ``proxy.unsupported_params: drop``."""
    title = PROVIDER_TITLES.get(provider, provider)
    return f"parameters not supported by {title} were dropped: {', '.join(names)}"


def markdown_table() -> str:
    """The per-provider parameter table of ``docs/providers.md`` (Markdown, one row per
    parameter; a cell is ``mapped: where``, ``accepted (not sent)`` or ``400`` with the
    values still accepted)."""
    header = "| parameter | " + " | ".join(PROVIDER_TITLES.values()) + " |"
    lines = [header, "| --- |" + " --- |" * len(PROVIDER_TITLES)]
    for name in OPENAI_PARAMETERS:
        cells = [_cell(RULES[name][provider], name) for provider in CONVERTED_PROVIDERS]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: For the table: the harmless values of rejected parameters, as the docs state them.
_HARMLESS_TEXT = {
    "frequency_penalty": "0",
    "presence_penalty": "0",
    "functions": "`[]`",
    "logit_bias": "`{}`",
    "logprobs": "`false`",
    "modalities": '`["text"]`',
    "n": "1",
    "parallel_tool_calls": "`true`",
    "service_tier": "`auto`, `default`",
    "store": "`false`",
    "top_logprobs": "0",
    "verbosity": "`medium`",
}


def _cell(rule: Rule, name: str) -> str:
    if rule.kind == "mapped":
        return rule.note
    if rule.kind == "accepted":
        return f"accepted, not sent ({rule.note})"
    allowed = _HARMLESS_TEXT.get(name)
    return f"400 ({rule.note})" + (f"; {allowed} accepted" if allowed else "")
