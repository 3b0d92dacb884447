"""Writing test files from recorded traces (``traceforge test create-from-trace``).

:func:`default_assertions` draws assertions from what a trace recorded: key terms of the
answer, a fuzzy baseline, the finish reason, the tools called, latency and token budgets.
:func:`test_from_trace` writes a whole test file, each assertion under a comment that says
where it came from, for a person to edit::

    assertions:
      # the answer mentioned 'Rayleigh' when recorded
      - type: contains
        value: Rayleigh
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import msgspec
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from traceforge_shared.chat_view import chat_request, chat_response
from traceforge_shared.evals.testcase import (
    Assertion,
    Contains,
    FinishReason,
    Fuzzy,
    Latency,
    TokenCount,
    ToolCall,
)
from traceforge_shared.evals.variables import replace_markers
from traceforge_shared.trace import Trace, response_text

#: Key terms of the answer checked with ``contains``.
KEY_TERMS = 3
#: Threshold of the fuzzy baseline: similar enough to the recorded answer.
FUZZY_THRESHOLD = 0.85
#: The latency budget: recorded latency times this, rounded up to a multiple of
#: :data:`LATENCY_STEP_MS`, at least :data:`LATENCY_MIN_MS`.
LATENCY_FACTOR = 3
LATENCY_STEP_MS = 500
LATENCY_MIN_MS = 1000
#: The completion token budget: recorded tokens times this, at least recorded + the margin.
TOKEN_FACTOR = 2
TOKEN_MARGIN = 50
#: Longest name derived from the first user message.
NAME_MAX_CHARS = 60
#: Tool call arguments are asserted when they are a JSON object at most this big.
_SMALL_ARGUMENTS_KEYS = 5
_SMALL_ARGUMENTS_CHARS = 200

_WORD_RE = re.compile(r"[^\W\d_]+")
_MIN_TERM_CHARS = 5
#: Common words of five or more letters that say nothing about an answer.
_STOP_WORDS = frozenset(
    """
    about above according actually after again against almost along already although always
    among another anything around based because become before being below between certain
    certainly could different doing during either enough especially every example first
    following further generally given great happy having however important including instead
    itself later least maybe might often other others otherwise perhaps possible provide
    question rather really should similar simply since something sometimes specific still
    their theirs there therefore these thing things think those though through today under
    until usually various where whether which while within without would yours yourself
    hello thanks thank please
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def _first_choice(trace: Trace) -> dict[str, Any]:
    response = chat_response(trace)
    choices = response.get("choices") if isinstance(response, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def _key_terms(text: str, limit: int = KEY_TERMS) -> list[str]:
    """The ``limit`` longest distinct words of ``text`` (letters only, at least five, not a
    stop word; case as first written), longest first and earliest on ties, returned in the
    order they appear in the text."""
    first: dict[str, tuple[int, str]] = {}
    for position, match in enumerate(_WORD_RE.finditer(text)):
        word = match.group()
        folded = word.casefold()
        if len(word) >= _MIN_TERM_CHARS and folded not in _STOP_WORDS and folded not in first:
            first[folded] = (position, word)
    chosen = sorted(first.values(), key=lambda entry: (-len(entry[1]), entry[0]))[:limit]
    return [word for _, word in sorted(chosen)]


def _tool_calls(choice: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(name, arguments)`` of each tool call of the answer; arguments decoded from their
    JSON text when they parse, else as recorded."""
    message = choice.get("message")
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    out: list[tuple[str, Any]] = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            with contextlib.suppress(ValueError):  # not JSON: kept as text
                arguments = json.loads(arguments)
        out.append((function["name"], arguments))
    return out


def _small_object(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value or len(value) > _SMALL_ARGUMENTS_KEYS:
        return None
    if len(json.dumps(value, ensure_ascii=False)) > _SMALL_ARGUMENTS_CHARS:
        return None
    return value


def _explained_defaults(trace: Trace) -> list[tuple[Assertion, str]]:
    """The default assertions of ``trace``, each with the comment that explains it."""
    out: list[tuple[Assertion, str]] = []
    choice = _first_choice(trace)
    text = response_text(trace)
    if text.strip():
        out.extend(
            (Contains(value=term), f"the answer mentioned {term!r} when recorded")
            for term in _key_terms(text)
        )
        out.append(
            (
                Fuzzy(value=text, threshold=FUZZY_THRESHOLD),
                "similarity to the recorded answer, 0-1 (rapidfuzz ratio); lower it if "
                "the wording may vary",
            )
        )
    for name, arguments in _tool_calls(choice):
        small = _small_object(arguments)
        why = f"the model called {name} when recorded"
        out.append(
            (
                ToolCall(name=name, arguments=small),
                why + (", with these arguments" if small else ""),
            )
        )
    finish = choice.get("finish_reason")
    if isinstance(finish, str) and (text.strip() or finish == "tool_calls"):
        out.append((FinishReason(value=finish), f"the recorded answer ended with {finish!r}"))
    latency = trace.metadata.latency_ms
    stepped = math.ceil(latency * LATENCY_FACTOR / LATENCY_STEP_MS) * LATENCY_STEP_MS
    budget = max(LATENCY_MIN_MS, stepped)
    how = (
        f"rounded up to a multiple of {LATENCY_STEP_MS} ms"
        if budget == stepped
        else (f"but at least {LATENCY_MIN_MS} ms")
    )
    out.append(
        (Latency(max_ms=float(budget)), f"{LATENCY_FACTOR}x the recorded {latency:.0f} ms, {how}")
    )
    usage = trace.metadata.usage
    if usage is not None:
        recorded = usage.completion_tokens
        limit = max(recorded * TOKEN_FACTOR, recorded + TOKEN_MARGIN)
        why = (
            f"{TOKEN_FACTOR}x the recorded {recorded} completion tokens"
            if limit == recorded * TOKEN_FACTOR
            else f"the recorded {recorded} completion tokens + {TOKEN_MARGIN}"
        )
        out.append((TokenCount(max=limit), why))
    return out


def default_assertions(trace: Trace) -> list[Assertion]:
    """Return sensible assertions for a test made from ``trace``, drawn from its answer.

    - a text answer: ``contains`` for up to 3 key terms (its longest distinctive words), a
      ``fuzzy`` baseline of the whole text at threshold 0.85, and ``finish_reason`` as
      recorded;
    - tool calls: a ``tool_call`` per call with its name, and its arguments when they are a
      small JSON object (at most 5 keys, 200 characters); ``finish_reason`` when recorded as
      ``tool_calls``;
    - always a ``latency`` budget: 3x the recorded latency rounded up to a multiple of 500 ms,
      at least 1000 ms;
    - a ``token_count`` budget when usage was recorded: ``max`` = 2x the recorded completion
      tokens, at least the recorded + 50.

    An answer with neither text nor tool calls (a failed call) gets the budgets only.
    """
    return [assertion for assertion, _ in _explained_defaults(trace)]


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{type: text, text: ...}, {type: image_url}]
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def default_test_name(trace: Trace) -> str:
    """The first user message on one line, cut at a word to at most 60 characters; else
    ``Trace <first 8 digits of the id>``."""
    request = chat_request(trace)
    messages = request.get("messages") if isinstance(request, dict) else None
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            text = " ".join(_message_text(message.get("content")).split())
            if len(text) > NAME_MAX_CHARS:
                room = NAME_MAX_CHARS - len("...")
                space = text.rfind(" ", 0, room + 1)  # a word may end right at the limit
                cut = text[:space] if space > room // 2 else text[:room]
                text = cut.rstrip(" ,.;:") + "..."
            if text:
                return text
            break
    return f"Trace {trace.id[:8]}"


#: What a literal block cannot hold as is: a character outside YAML's printable set, a line
#: break other than ``\n`` (``\r``, NEL, LS, PS: the loader would read them as ``\n``), a BOM,
#: or blanks at the end of a line (editors strip them on save).
_NOT_FOR_BLOCK_RE = re.compile(
    r"[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
    r"|[ \t]$",
    re.MULTILINE,
)


def _scalar(value: Any) -> Any:
    """A string with line breaks as a literal block (``|-``) when a block holds it exactly;
    otherwise (and for other values) as it is, which ruamel quotes and escapes as needed."""
    if isinstance(value, str) and "\n" in value and not _NOT_FOR_BLOCK_RE.search(value):
        return LiteralScalarString(value)
    return value


def _node(value: Any) -> Any:
    """``value`` (JSON-like) as ruamel nodes: block mappings, short lists of one-line scalars
    in flow style (``[a, b]``), other lists in block style, multi-line strings as blocks."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[str(key)] = _node(item)
        return mapping
    if isinstance(value, list):
        seq = CommentedSeq(_node(item) for item in value)
        scalars = all(
            item is None
            or isinstance(item, bool | int | float)
            or (isinstance(item, str) and "\n" not in item)
            for item in value
        )
        if scalars and len(json.dumps(value, ensure_ascii=False)) <= 60:
            seq.fa.set_flow_style()
        return seq
    return _scalar(value)


def _assertion_node(assertion: Assertion) -> CommentedMap:
    """``type`` first, then the fields that differ from their defaults (whole numbers
    without ``.0``); ``arguments`` of a tool call in flow style."""
    node = CommentedMap()
    node["type"] = assertion.__struct_config__.tag
    for field in msgspec.structs.fields(assertion):
        value = getattr(assertion, field.name)
        default = (
            field.default_factory()
            if field.default_factory is not msgspec.NODEFAULT
            else field.default
        )
        if field.required or value != default:
            if isinstance(value, float) and value.is_integer() and field.name != "threshold":
                value = int(value)
            item = _node(value)
            if isinstance(item, CommentedMap) and field.name == "arguments":
                item.fa.set_flow_style()
            node[field.name] = item
    return node


def source_problem(trace: Trace) -> str | None:
    """Why ``trace`` would make a test that lies, or ``None`` when it is a good source.

    A test's assertions are drawn from the recorded answer, so the call must have answered
    in full: status ``success`` with an HTTP status below 400, not cut short by the client
    (``client_disconnected``) or the upstream (``incomplete``, ``upstream_error``), and a
    streamed answer must have ended with a finish reason.
    """
    meta = trace.metadata
    code = f"HTTP {meta.status_code}" if meta.status_code else "no HTTP status"
    if meta.status == "client_disconnected":
        return f"the client hung up before the answer was complete ({code}): the answer is partial"
    if meta.status == "incomplete":
        return "the answer is incomplete (the stream ended before the provider finished)"
    if meta.status != "success" or meta.status_code >= 400:
        detail = f": {meta.error.message}" if meta.error is not None else ""
        return f"the call failed ({meta.status}, {code}{detail})"
    response = chat_response(trace)
    choices = response.get("choices") if isinstance(response, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    if meta.streaming and isinstance(first, dict) and first.get("finish_reason") is None:
        return "the stream ended without a finish reason: the answer may be partial"
    return None


def test_from_trace(
    trace: Trace,
    *,
    name: str | None = None,  # noqa: PT028
    marker_values: Mapping[str, str] | None = None,  # noqa: PT028
) -> str:
    """Return the YAML text of a test made from ``trace``.

    Redaction markers in the request (``[EMAIL_REDACTED:3f2a]``) are replaced by
    ``marker_values[marker]`` when given, else by a ``${TRACEFORGE_<KIND>_<n>}`` variable
    filled from the environment at run time (:mod:`traceforge_shared.evals.variables`).

    The test has ``name`` (default: the first user message, at most 60 characters, or
    ``Trace <id8>``), a ``description`` saying where it came from (provider, model, time),
    empty ``tags``, the trace's ``request`` (the OpenAI view, ``stream_options`` dropped,
    ``stream`` as recorded; a Responses API trace's chat completion view,
    :func:`traceforge_shared.chat_view.chat_request`, so the test runs as a chat call), the
    :func:`default_assertions`, each under a comment explaining it, and ``source_trace``
    (the trace id, for replays). Multi-line strings are literal blocks (``|-``).
    :func:`traceforge_shared.evals.loader.load_test_file` reads it back into the same test.

    Raises:
        ValueError: the trace has no chat completion request (a mapping with a ``model``
            string and a ``messages`` list, in its chat completion view).
    """
    request = chat_request(trace)
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("model"), str)
        or not isinstance(request.get("messages"), list)
    ):
        raise ValueError(
            f"trace {trace.id} has no chat completion request (model and messages); "
            "only chat calls can become tests"
        )
    doc = CommentedMap()
    doc["name"] = name or default_test_name(trace)
    doc["description"] = (
        f"Made from trace {trace.id} ({trace.provider} {trace.model}, recorded {trace.timestamp})."
    )
    doc["tags"] = CommentedSeq()
    sent, _ = replace_markers(
        {k: v for k, v in request.items() if k != "stream_options"}, marker_values
    )
    doc["request"] = _node(sent)
    assertions = CommentedSeq()
    for index, (assertion, why) in enumerate(_explained_defaults(trace)):
        assertions.append(_assertion_node(assertion))
        comment = " ".join(why.split())  # one line, whatever a tool name holds
        assertions.yaml_set_comment_before_after_key(index, before=comment, indent=2)
    doc["assertions"] = assertions
    doc["source_trace"] = trace.id
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1_000_000  # never fold long strings over lines: a person edits them
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


test_from_trace.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
