"""Checking assertions against traces: ``traceforge_shared.evals.assertions``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from genai_prices.data_snapshot import get_snapshot
from rapidfuzz import fuzz

from traceforge_shared.evals import Assertion, AssertionResult, evaluate, evaluate_all
from traceforge_shared.evals.testcase import (
    Contains,
    ContainsAll,
    ContainsAny,
    Cost,
    Exact,
    FinishReason,
    Fuzzy,
    IContains,
    IsJson,
    JsonPath,
    JsonSchema,
    Latency,
    NotContains,
    Regex,
    StartsWith,
    TokenCount,
    ToolCall,
)
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace, TraceError

CONTENT = "response.choices[0].message.content"
QUANTUM = (
    "Quantum computing uses qubits, which can be in superpositions of 0 and 1. "
    "Algorithms like Shor's factor integers exponentially faster than known classical "
    "methods, while Grover's search gives a quadratic speed-up for unstructured search."
)


def check(assertion: Assertion, trace: Trace) -> AssertionResult:
    result = evaluate(assertion, trace)
    assert result.type == type(assertion).__struct_config__.tag
    assert result.message
    return result


def passes(assertion: Assertion, trace: Trace) -> str:
    result = check(assertion, trace)
    assert result.passed, result.message
    return result.message


def fails(assertion: Assertion, trace: Trace) -> str:
    result = check(assertion, trace)
    assert not result.passed, result.message
    return result.message


def text_trace(text: str) -> Trace:
    return make_trace(text=text)


def tool_call_trace(*calls: tuple[str, Any]) -> Trace:
    trace = make_trace(text="")
    trace.response["choices"][0] = {
        "index": 0,
        "finish_reason": "tool_calls",
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(calls)
            ],
        },
    }
    return trace


def error_trace() -> Trace:
    trace = make_trace(status="error", status_code=429)
    trace.response = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
    trace.metadata.usage = None
    trace.metadata.error = TraceError(type="rate_limit_error", message="Rate limit reached")
    return trace


# --- text assertions --------------------------------------------------------------------------


def test_contains_message_shows_a_cut_preview_of_a_long_answer() -> None:
    trace = text_trace(QUANTUM)
    assert passes(Contains(value="qubits"), trace) == "contains 'qubits'"
    message = fails(Contains(value="quantum"), trace)
    cut = QUANTUM[:120]
    assert "'" in cut  # Shor's: repr quotes it with double quotes
    assert message == (
        f"expected {CONTENT} to contain 'quantum' (it does ignoring case: use icontains); "
        f'it was "{cut}…" ({len(QUANTUM)} chars)'
    )
    message = fails(Contains(value="entanglement"), trace)
    assert message.startswith(f"expected {CONTENT} to contain 'entanglement'; it was \"Quantum")
    assert message.endswith(f'…" ({len(QUANTUM)} chars)')


def test_short_values_are_shown_whole() -> None:
    message = fails(Contains(value="bye"), text_trace("Hello there!"))
    assert message == f"expected {CONTENT} to contain 'bye'; it was 'Hello there!'"


def test_newlines_stay_on_one_line() -> None:
    message = fails(Contains(value="z"), text_trace("line one\nline two"))
    assert message == f"expected {CONTENT} to contain 'z'; it was 'line one\\nline two'"


def test_exact() -> None:
    trace = text_trace("Paris")
    assert passes(Exact(value="Paris"), trace) == "equals 'Paris'"
    assert fails(Exact(value="Paris."), trace) == (
        f"expected {CONTENT} to equal 'Paris.'; it differs from character 5: it was 'Paris'"
    )
    assert fails(Exact(value="Rome"), trace) == (
        f"expected {CONTENT} to equal 'Rome'; it differs from character 0: it was 'Paris'"
    )


def test_icontains() -> None:
    trace = text_trace(QUANTUM)
    assert passes(IContains(value="SHOR'S"), trace) == 'contains "SHOR\'S" (ignoring case)'
    message = fails(IContains(value="Entanglement"), trace)
    assert message.startswith(
        f"expected {CONTENT} to contain 'Entanglement' (ignoring case); it was \"Quantum"
    )


def test_not_contains() -> None:
    trace = text_trace("As an AI language model, I cannot browse the web.")
    assert passes(NotContains(value="sorry"), trace) == "does not contain 'sorry'"
    assert fails(NotContains(value="AI language model"), trace) == (
        f"expected {CONTENT} not to contain 'AI language model'; found at character 6: "
        "'As an AI language model, I cannot browse the web.'"
    )


def test_not_contains_cuts_the_excerpt_around_the_match() -> None:
    text = "x" * 100 + "FORBIDDEN" + "y" * 100
    message = fails(NotContains(value="FORBIDDEN"), text_trace(text))
    assert message == (
        f"expected {CONTENT} not to contain 'FORBIDDEN'; found at character 100: "
        f"…'{'x' * 40}FORBIDDEN{'y' * 40}'…"
    )


def test_contains_any() -> None:
    trace = text_trace("The capital of France is Paris.")
    assert passes(ContainsAny(values=["Rome", "Paris"]), trace) == "contains 'Paris'"
    assert passes(ContainsAny(values=["PARIS"], case_sensitive=False), trace) == (
        "contains 'PARIS' (ignoring case)"
    )
    assert fails(ContainsAny(values=["PARIS", "Rome"]), trace) == (
        f"expected {CONTENT} to contain any of 'PARIS', 'Rome'; "
        "it was 'The capital of France is Paris.'"
    )
    assert fails(ContainsAny(values=[]), trace) == "contains_any has no values to look for"


def test_contains_all() -> None:
    trace = text_trace("Python, Go and Rust are languages.")
    assert passes(ContainsAll(values=["Python", "Rust"]), trace) == (
        "contains all of 'Python', 'Rust'"
    )
    assert fails(ContainsAll(values=["Python", "Java", "Ruby"]), trace) == (
        f"expected {CONTENT} to contain all of 'Python', 'Java', 'Ruby'; missing 'Java', "
        "'Ruby'; it was 'Python, Go and Rust are languages.'"
    )
    assert passes(ContainsAll(values=["python", "GO"], case_sensitive=False), trace) == (
        "contains all of 'python', 'GO' (ignoring case)"
    )
    assert "missing 'python'" in fails(ContainsAll(values=["python", "Go"]), trace)


def test_starts_with() -> None:
    trace = text_trace("  Yes, that is right.")
    assert passes(StartsWith(value="  Yes"), trace) == "starts with '  Yes'"
    assert fails(StartsWith(value="Yes"), trace) == (
        f"expected {CONTENT} to start with 'Yes' (it does after leading whitespace); "
        "it was '  Yes, that is right.'"
    )
    assert fails(StartsWith(value="No"), trace) == (
        f"expected {CONTENT} to start with 'No'; it was '  Yes, that is right.'"
    )


def test_regex() -> None:
    trace = text_trace("Your order #A-1234 ships Monday.")
    assert passes(Regex(pattern=r"#[A-Z]-\d{4}"), trace) == r"matches /#[A-Z]-\d{4}/ at '#A-1234'"
    assert fails(Regex(pattern=r"^\d+$"), trace) == (
        rf"expected {CONTENT} to match /^\d+$/; it was 'Your order #A-1234 ships Monday.'"
    )
    message = fails(Regex(pattern="(unclosed"), trace)
    assert message.startswith("invalid regular expression '(unclosed': missing ), unterminated")


@pytest.mark.timeout(60)  # with `re` this search takes about 10 minutes
def test_a_regex_with_catastrophic_backtracking_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pattern from a test file must not freeze the run (or the proxy's event loop)."""
    from traceforge_shared.evals import assertions

    monkeypatch.setattr(assertions, "REGEX_TIMEOUT_S", 0.2)
    trace = text_trace("a" * 32 + "!")
    message = fails(Regex(pattern=r"^(a|a)*$"), trace)
    assert message.startswith(r"regex timed out after 0.2 s: /^(a|a)*$/ on the 33 characters")
    assert passes(Regex(pattern=r"^(a|a)*!$"), text_trace("a" * 5 + "!")).startswith("matches")


def test_fuzzy_score_and_message() -> None:
    answer = "The quick brown fox jumps over the lazy dog"
    expected = "The quick brown fox jumped over the lazy dog"
    trace = text_trace(answer)
    score = fuzz.ratio(answer, expected) / 100
    assert 0.9 < score < 1.0

    result = check(Fuzzy(value=expected, threshold=0.9), trace)
    assert result.passed
    assert result.score == pytest.approx(score)
    assert result.message == f"similarity {score:.2f} >= threshold 0.90 to '{expected}'"

    result = check(Fuzzy(value="A slow green turtle", threshold=0.8), trace)
    low = fuzz.ratio(answer, "A slow green turtle") / 100
    assert not result.passed
    assert result.score == pytest.approx(low)
    assert result.message == (
        f"expected {CONTENT} to be similar to 'A slow green turtle' (threshold 0.80); "
        f"similarity {low:.2f}, it was '{answer}'"
    )


def test_fuzzy_shows_more_digits_when_two_would_look_equal() -> None:
    answer, target = "abcdefghij" * 20, "abcdefghij" * 20 + "x"
    score = fuzz.ratio(answer, target) / 100
    assert f"{score:.2f}" == "1.00" and score < 1.0
    result = check(Fuzzy(value=target, threshold=1.0), text_trace(answer))
    assert not result.passed
    assert f"(threshold 1.00); similarity {score:.4f}, it was" in result.message


def test_non_string_field_is_compared_as_compact_json() -> None:
    trace = make_trace(prompt_tokens=12, completion_tokens=34)
    usage = Contains(field="metadata.usage", value='"completion_tokens":34')
    assert passes(usage, trace) == "contains '\"completion_tokens\":34'"
    assert passes(Exact(field="metadata.usage.total_tokens", value="46"), trace) == "equals '46'"
    message = fails(Exact(field="metadata.usage.total_tokens", value="47"), trace)
    assert message.endswith("it was '46'")
    null = fails(Contains(value="weather"), tool_call_trace(("get_weather", {"city": "Oslo"})))
    assert null == f"expected {CONTENT} to contain 'weather'; it was 'null'"


def test_text_assertions_on_a_streamed_trace() -> None:
    trace = make_trace(text="Streaming works word by word", streaming=True)
    assert passes(Contains(value="word by word"), trace) == "contains 'word by word'"
    assert passes(Exact(value="Streaming works word by word"), trace)
    chunk = "chunks[1].data.choices[0].delta.content"
    assert passes(Exact(field=chunk, value=" works"), trace) == "equals ' works'"


@pytest.mark.parametrize(
    "assertion",
    [
        Exact(value="x"),
        Contains(value="x"),
        IContains(value="x"),
        NotContains(value="x"),
        ContainsAny(values=["x"]),
        ContainsAll(values=["x"]),
        StartsWith(value="x"),
        Regex(pattern="x"),
        Fuzzy(value="x"),
        IsJson(),
        JsonSchema(schema={"type": "object"}),
        JsonPath(path="$.x"),
        FinishReason(value="stop"),
        ToolCall(name="x"),
    ],
)
def test_missing_field_fails_with_the_field_message(assertion: Assertion) -> None:
    assert fails(assertion, error_trace()).startswith("response.choices[0]")
    assert "'choices' not found in response (keys: error)" in fails(assertion, error_trace())


def test_missing_field_message_is_exactly_the_lookup_error() -> None:
    assert fails(Contains(value="x"), error_trace()) == (
        f"{CONTENT}: 'choices' not found in response (keys: error)"
    )
    wrong = Contains(field="metadata.usage.completion_tokens", value="1")
    assert fails(wrong, error_trace()) == (
        "metadata.usage.completion_tokens: cannot read 'completion_tokens' from "
        "metadata.usage: it is null"
    )


def test_invalid_field_path_fails() -> None:
    message = fails(Contains(field="response..x", value="a"), make_trace())
    assert message == (
        "invalid field path 'response..x': expected a name after '.' at position 9, found '.'"
    )


# --- JSON assertions --------------------------------------------------------------------------


def test_is_json() -> None:
    assert passes(IsJson(), text_trace('{"a": [1, 2]}')) == "is valid JSON (an object)"
    assert passes(IsJson(), text_trace("[1]")) == "is valid JSON (an array)"
    assert fails(IsJson(), text_trace('{"a": 1,}')) == (
        f"expected {CONTENT} to be valid JSON; Expecting property name enclosed in double "
        "quotes at line 1 column 9; it was '{\"a\": 1,}'"
    )
    fenced = '```json\n{"a": 1}\n```'
    assert fails(IsJson(), text_trace(fenced)) == (
        f"expected {CONTENT} to be valid JSON; Expecting value at line 1 column 1 "
        "(it is wrapped in a ``` code fence); it was '```json\\n{\"a\": 1}\\n```'"
    )
    assert "NaN is not valid JSON" in fails(IsJson(), text_trace('{"a": NaN}'))
    tool = tool_call_trace(("f", {}))
    assert fails(IsJson(), tool) == f"expected {CONTENT} to be JSON text; it was null (no text)"
    assert passes(IsJson(field="metadata.usage"), make_trace()) == "is JSON (an object)"


PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_json_schema_valid() -> None:
    trace = text_trace('{"name": "Ada", "age": 36}')
    assert passes(JsonSchema(schema=PERSON_SCHEMA), trace) == "matches the JSON schema"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ('{"name": "Ada"}', "at $: 'age' is a required property"),
        ('{"name": "Ada", "age": "36"}', "at $.age: '36' is not of type 'integer'"),
        ('{"name": "Ada", "age": -1}', "at $.age: -1 is less than the minimum of 0"),
        (
            '{"name": "Ada", "age": 1, "x": 1}',
            "at $: Additional properties are not allowed ('x' was unexpected)",
        ),
        (
            '{"name": "Ada", "age": 1, "email": "not-an-email"}',
            "at $.email: 'not-an-email' is not a 'email'",
        ),
        ("[1, 2]", "at $: [1, 2] is not of type 'object'"),
    ],
)
def test_json_schema_invalid(answer: str, message: str) -> None:
    assert fails(JsonSchema(schema=PERSON_SCHEMA), text_trace(answer)) == (
        f"expected {CONTENT} to match the JSON schema; {message}"
    )


def test_json_schema_counts_the_other_errors() -> None:
    message = fails(JsonSchema(schema=PERSON_SCHEMA), text_trace('{"age": "x", "y": 1}'))
    assert message.startswith(f"expected {CONTENT} to match the JSON schema; at ")
    assert message.endswith("(+2 more errors)")


def test_json_schema_on_non_json_text_invalid_schema_and_remote_ref() -> None:
    assert fails(JsonSchema(schema=PERSON_SCHEMA), text_trace("Sure! Here you go")) == (
        f"expected {CONTENT} to be JSON for json_schema; it is not valid JSON: Expecting value "
        "at line 1 column 1; it was 'Sure! Here you go'"
    )
    assert fails(JsonSchema(schema={"type": 12}), text_trace("{}")) == (
        "invalid JSON schema: 12 is not valid under any of the given schemas"
    )
    remote = {"$ref": "https://schemas.example.invalid/person.json"}
    assert fails(JsonSchema(schema=remote), text_trace("{}")) == (
        "invalid JSON schema: cannot resolve $ref 'https://schemas.example.invalid/person.json' "
        "(only references within the schema are followed; remote schemas are not fetched)"
    )


def test_json_schema_on_structured_field() -> None:
    schema = {"type": "object", "required": ["prompt_tokens", "completion_tokens"]}
    assert passes(JsonSchema(field="metadata.usage", schema=schema), make_trace())


def test_json_schema_on_tool_arguments() -> None:
    trace = tool_call_trace(("get_weather", {"city": "Oslo"}))
    field = "response.choices[0].message.tool_calls[0].function.arguments"
    schema = {"type": "object", "required": ["city", "unit"]}
    assert fails(JsonSchema(field=field, schema=schema), trace) == (
        f"expected {field} to match the JSON schema; at $: 'unit' is a required property"
    )


ORDER = json.dumps(
    {
        "id": "ord_1",
        "total": 42.5,
        "items": [{"sku": "A1", "qty": 2}, {"sku": "B7", "qty": 1}],
        "tags": ["gift", "express"],
        "note": "leave at the door",
        "paid": True,
    }
)


@pytest.mark.parametrize(
    ("path", "operator", "value", "message"),
    [
        ("$.id", "==", "ord_1", '$.id was "ord_1" (== "ord_1")'),
        ("$.total", "==", 42.5, "$.total was 42.5 (== 42.5)"),
        ("$.items[0].qty", "==", 2.0, "$.items[0].qty was 2 (== 2.0)"),
        ("$.id", "!=", "ord_2", '$.id was "ord_1" (!= "ord_2")'),
        ("$.paid", "!=", 1, "$.paid was true (!= 1)"),
        ("$.total", "<", 50, "$.total was 42.5 (< 50)"),
        ("$.total", "<=", 42.5, "$.total was 42.5 (<= 42.5)"),
        ("$.items[1].qty", ">", 0, "$.items[1].qty was 1 (> 0)"),
        ("$.total", ">=", 42.5, "$.total was 42.5 (>= 42.5)"),
        ("$.id", ">", "ord_0", '$.id was "ord_1" (> "ord_0")'),
        ("$.note", "contains", "door", '$.note was "leave at the door" (contains "door")'),
        ("$.tags", "contains", "gift", '$.tags was ["gift","express"] (contains "gift")'),
        ("$.items[*].sku", "contains", "B7", '$.items[*].sku was ["A1","B7"] (contains "B7")'),
        ("$.items[?@.qty > 1].sku", "==", "A1", '$.items[?@.qty > 1].sku was "A1" (== "A1")'),
        ("$.items", "contains", {"sku": "B7", "qty": 1}, None),
    ],
)
def test_json_path_passes(path: str, operator: Any, value: Any, message: str | None) -> None:
    result = passes(JsonPath(path=path, operator=operator, value=value), text_trace(ORDER))
    if message is not None:
        assert result == message


@pytest.mark.parametrize(
    ("path", "operator", "value", "message"),
    [
        ("$.id", "==", "ord_2", 'expected $.id == "ord_2"; it was "ord_1"'),
        ("$.paid", "==", 1, "expected $.paid == 1; it was true"),
        ("$.total", "!=", 42.5, "expected $.total != 42.5; it was 42.5"),
        ("$.total", "<", 40, "expected $.total < 40; it was 42.5"),
        ("$.total", "<=", 42.4, "expected $.total <= 42.4; it was 42.5"),
        ("$.items[1].qty", ">", 1, "expected $.items[1].qty > 1; it was 1"),
        ("$.total", ">=", 100, "expected $.total >= 100; it was 42.5"),
        (
            "$.note",
            "contains",
            "window",
            'expected $.note contains "window"; it was "leave at the door"',
        ),
        (
            "$.tags",
            "contains",
            "fragile",
            'expected $.tags contains "fragile"; it was ["gift","express"]',
        ),
    ],
)
def test_json_path_fails(path: str, operator: Any, value: Any, message: str) -> None:
    assert fails(JsonPath(path=path, operator=operator, value=value), text_trace(ORDER)) == message


@pytest.mark.parametrize(
    ("path", "operator", "value", "message"),
    [
        (
            "$.total",
            ">",
            "40",
            'cannot check $.total > "40": cannot order a number against a string (it was 42.5)',
        ),
        (
            "$.paid",
            "<",
            2,
            "cannot check $.paid < 2: cannot order a boolean against a number (it was true)",
        ),
        (
            "$.total",
            "contains",
            4,
            "cannot check $.total contains 4: contains needs a string or an array, it was a "
            "number (it was 42.5)",
        ),
        (
            "$.note",
            "contains",
            1,
            "cannot check $.note contains 1: a string contains only strings, not a number "
            '(it was "leave at the door")',
        ),
        (
            "$.items",
            ">=",
            1,
            "cannot check $.items >= 1: cannot order an array against a number (it was "
            '[{"sku":"A1","qty":2},{"sku":"B7","qty":1}])',
        ),
    ],
)
def test_json_path_incompatible_types_fail(
    path: str, operator: Any, value: Any, message: str
) -> None:
    assert fails(JsonPath(path=path, operator=operator, value=value), text_trace(ORDER)) == message


def test_json_path_no_match_bad_path_and_non_json() -> None:
    trace = text_trace(ORDER)
    assert fails(JsonPath(path="$.customer.name", value="Ada"), trace) == (
        f'expected $.customer.name == "Ada"; no value at $.customer.name in {CONTENT} '
        "(its keys: id, total, items, tags, note, paid)"
    )
    message = fails(JsonPath(path="items[0]", value=1), trace)
    assert message.startswith("invalid JSONPath 'items[0]': ")
    assert message.endswith("(a JSONPath starts with '$', e.g. '$.name')")
    assert "\n" not in message
    assert fails(JsonPath(path="$.a", value=1), text_trace("no json here")) == (
        f"expected {CONTENT} to be JSON for json_path; it is not valid JSON: Expecting value "
        "at line 1 column 1; it was 'no json here'"
    )
    assert fails(JsonPath(path="$[5]", value=1), text_trace("[1, 2]")) == (
        f"expected $[5] == 1; no value at $[5] in {CONTENT} (it is an array of 2)"
    )


def test_json_path_scalar_documents_and_null() -> None:
    assert passes(JsonPath(path="$", value=7, operator=">"), text_trace("12")) == "$ was 12 (> 7)"
    assert fails(JsonPath(path="$.a", value=1), text_trace('"just a string"')) == (
        f"expected $.a == 1; no value at $.a in {CONTENT} (it is a string)"
    )
    assert passes(JsonPath(path="$.gone", value=None), text_trace('{"gone": null}')) == (
        "$.gone was null (== null)"
    )


def test_json_path_on_structured_field_and_tool_arguments() -> None:
    trace = make_trace(prompt_tokens=9, completion_tokens=21)
    assert passes(JsonPath(field="metadata.usage", path="$.completion_tokens", value=21), trace)
    tool = tool_call_trace(("book", {"seats": 3, "class": "economy"}))
    field = "response.choices[0].message.tool_calls[0].function.arguments"
    assert passes(JsonPath(field=field, path="$.seats", operator="<=", value=4), tool)


# --- trace measurements -----------------------------------------------------------------------


def test_token_count_bounds() -> None:
    trace = make_trace(prompt_tokens=120, completion_tokens=45)
    assert passes(TokenCount(max=50), trace) == "completion tokens: 45 (<= 50)"
    assert passes(TokenCount(min=10, max=50), trace) == "completion tokens: 45 (between 10 and 50)"
    assert fails(TokenCount(max=40), trace) == "expected completion tokens <= 40; it was 45"
    assert fails(TokenCount(min=46), trace) == "expected completion tokens >= 46; it was 45"
    assert fails(TokenCount(count="prompt", min=1, max=100), trace) == (
        "expected prompt tokens between 1 and 100; it was 120"
    )
    assert fails(TokenCount(count="total", max=164), trace) == (
        "expected total tokens <= 164; it was 165"
    )
    assert passes(TokenCount(count="total", min=165), trace) == "total tokens: 165 (>= 165)"
    assert passes(TokenCount(), trace) == "completion tokens: 45 (no bounds given)"


def test_token_count_without_usage() -> None:
    assert fails(TokenCount(max=10), error_trace()) == (
        "cannot check completion tokens: no token usage recorded in the trace"
    )


def test_latency() -> None:
    trace = make_trace(latency_ms=1834.26)
    assert passes(Latency(max_ms=2000), trace) == "latency 1834.3 ms <= 2000 ms"
    assert passes(Latency(max_ms=1834.26), trace)
    assert fails(Latency(max_ms=1500), trace) == "expected latency <= 1500 ms; it was 1834.3 ms"


def _mini_cost(prompt: int, completion: int) -> float:
    _, info = get_snapshot().find_provider_model("gpt-4o-mini", None, "openai", None)
    price = info.get_prices(datetime.now(UTC))
    per_input, per_output = price.input_mtok, price.output_mtok
    assert isinstance(per_input, Decimal) and isinstance(per_output, Decimal)
    total = Decimal(prompt) * per_input + Decimal(completion) * per_output
    return float(total / Decimal(1_000_000))


def test_cost() -> None:
    trace = make_trace(model="gpt-4o-mini", prompt_tokens=10_000, completion_tokens=2_000)
    cost = _mini_cost(10_000, 2_000)
    assert cost == pytest.approx(0.0027)  # $0.15 / $0.60 per million tokens
    assert passes(Cost(max_usd=0.01), trace) == "cost $0.0027 <= $0.01"
    assert fails(Cost(max_usd=0.001), trace) == "expected cost <= $0.001; it was $0.0027"


def test_cost_unknown() -> None:
    trace = make_trace(model="mystery-model-9000", provider="openai")
    assert fails(Cost(max_usd=1), trace) == (
        "cost unknown for openai/mystery-model-9000 (no price in genai-prices)"
    )
    assert fails(Cost(max_usd=1), error_trace()) == (
        "cost unknown for openai/gpt-4o-mini (no token usage recorded)"
    )


def test_cost_of_local_and_recorded() -> None:
    assert passes(Cost(max_usd=0), make_trace(provider="ollama", model="llama3.2")) == (
        "cost $0 <= $0"
    )
    trace = make_trace(model="mystery-model-9000")
    trace.metadata.cost_usd = 0.5
    assert fails(Cost(max_usd=0.25), trace) == "expected cost <= $0.25; it was $0.50"


def test_finish_reason() -> None:
    trace = make_trace()
    assert passes(FinishReason(value="stop"), trace) == "finish_reason 'stop'"
    assert fails(FinishReason(value="length"), trace) == (
        "expected response.choices[0].finish_reason to be 'length'; it was 'stop'"
    )
    tool = tool_call_trace(("f", {}))
    assert passes(FinishReason(value="tool_calls"), tool)
    streamed = make_trace(streaming=True)
    assert passes(FinishReason(value="stop"), streamed)
    streamed.response["choices"][0]["finish_reason"] = None
    assert fails(FinishReason(value="stop"), streamed) == (
        "expected response.choices[0].finish_reason to be 'stop'; it was null"
    )


def test_tool_call_by_name() -> None:
    trace = tool_call_trace(("search", {"q": "x"}), ("get_weather", {"city": "Oslo"}))
    assert passes(ToolCall(name="get_weather"), trace) == "called 'get_weather'"
    assert fails(ToolCall(name="send_email"), trace) == (
        "expected a call to tool 'send_email'; tools called: 'search', 'get_weather'"
    )
    assert fails(ToolCall(name="search"), make_trace()) == (
        "expected a call to tool 'search'; no tool was called"
    )


def test_tool_call_arguments() -> None:
    trace = tool_call_trace(("get_weather", {"city": "Oslo", "unit": "celsius", "days": 3}))
    assert passes(ToolCall(name="get_weather", arguments={"city": "Oslo"}), trace) == (
        """called 'get_weather' with {"city":"Oslo"}"""
    )
    assert passes(ToolCall(name="get_weather", arguments={"days": 3.0, "unit": "celsius"}), trace)
    assert fails(ToolCall(name="get_weather", arguments={"city": "Bergen"}), trace) == (
        """expected a call to tool 'get_weather' with arguments {"city":"Bergen"}; its call """
        """had arguments {"city":"Oslo","unit":"celsius","days":3}"""
    )
    assert "its call had arguments" in fails(
        ToolCall(name="get_weather", arguments={"country": "NO"}), trace
    )


def test_tool_call_arguments_any_matching_call_and_bad_json() -> None:
    trace = tool_call_trace(("lookup", {"id": 1}), ("lookup", {"id": 2}))
    assert passes(ToolCall(name="lookup", arguments={"id": 2}), trace)
    assert fails(ToolCall(name="lookup", arguments={"id": 3}), trace) == (
        """expected a call to tool 'lookup' with arguments {"id":3}; its calls had arguments """
        """{"id":1}; {"id":2}"""
    )
    broken = tool_call_trace(("lookup", '{"id": 1'), ("lookup", "[1]"))
    assert fails(ToolCall(name="lookup", arguments={"id": 1}), broken) == (
        """expected a call to tool 'lookup' with arguments {"id":1}; its calls had arguments """
        """'{"id": 1' (not valid JSON); [1] (not an object)"""
    )


def test_tool_call_bool_is_not_a_number() -> None:
    trace = tool_call_trace(("set", {"enabled": True}))
    assert fails(ToolCall(name="set", arguments={"enabled": 1}), trace).startswith(
        "expected a call to tool 'set'"
    )


# --- results, evaluate_all and robustness -----------------------------------------------------


def test_description_and_type_are_carried() -> None:
    result = evaluate(Fuzzy(value="Hello there!", description="greets"), make_trace())
    assert result == AssertionResult(
        type="fuzzy",
        passed=True,
        message="similarity 1.00 >= threshold 0.80 to 'Hello there!'",
        description="greets",
        score=1.0,
    )
    assert evaluate(Latency(max_ms=1), make_trace()).description is None


def test_evaluate_all_checks_every_assertion_in_order() -> None:
    trace = make_trace(text="Paris is the capital.", latency_ms=900)
    results = evaluate_all(
        [Contains(value="Paris"), Latency(max_ms=500), FinishReason(value="stop")], trace
    )
    assert [(r.type, r.passed) for r in results] == [
        ("contains", True),
        ("latency", False),
        ("finish_reason", True),
    ]
    assert evaluate_all([], trace) == []


ALL_KINDS: list[Assertion] = [
    Exact(value="x"),
    Contains(value="x"),
    IContains(value="x"),
    NotContains(value="x"),
    ContainsAny(values=["x"]),
    ContainsAll(values=["x"]),
    StartsWith(value="x"),
    Regex(pattern="x"),
    IsJson(),
    JsonSchema(schema={"type": "object"}),
    JsonPath(path="$.x", value=1),
    Fuzzy(value="x"),
    TokenCount(max=1),
    Latency(max_ms=1),
    Cost(max_usd=0.0),
    FinishReason(value="stop"),
    ToolCall(name="x", arguments={"a": 1}),
]


def _weird_traces() -> list[Trace]:
    def with_response(response: Any) -> Trace:
        trace = make_trace(latency_ms=5000)
        trace.response = response
        return trace

    none_usage = make_trace()
    none_usage.metadata.usage = None
    none_usage.response = None
    weird_tools = make_trace()
    weird_tools.response["choices"][0]["message"]["tool_calls"] = [
        None,
        "call",
        {"function": None},
        {"function": {"name": "x", "arguments": {"a": 1}}},
    ]
    return [
        with_response(None),
        with_response("Bad Gateway"),
        with_response({"choices": []}),
        with_response({"choices": [None]}),
        with_response({"choices": [{"message": None, "finish_reason": 3}]}),
        with_response({"choices": [{"message": {"content": ["parts"], "tool_calls": "x"}}]}),
        with_response([1, 2, 3]),
        with_response({"error": {"message": "boom"}}),
        none_usage,
        weird_tools,
        error_trace(),
        make_trace(streaming=True, text=""),
    ]


@pytest.mark.parametrize("trace", _weird_traces())
@pytest.mark.parametrize("assertion", ALL_KINDS, ids=lambda a: type(a).__name__)
def test_evaluate_never_raises(assertion: Assertion, trace: Trace) -> None:
    result = evaluate(assertion, trace)
    assert isinstance(result, AssertionResult)
    assert isinstance(result.passed, bool)
    assert result.message
    assert "Traceback" not in result.message


def test_weird_response_messages() -> None:
    trace = make_trace()
    trace.response = None
    assert fails(Contains(value="x"), trace) == (
        f"{CONTENT}: cannot read 'choices' from response: it is null"
    )
    trace.response = "Bad Gateway"
    assert fails(FinishReason(value="stop"), trace) == (
        "response.choices[0].finish_reason: cannot read 'choices' from response: it is a string"
    )
    trace.response = {"choices": []}
    assert fails(ToolCall(name="f"), trace) == (
        "response.choices[0].message: index 0 out of range in response.choices (length 0)"
    )
    odd = make_trace()
    odd.response["choices"][0]["message"]["tool_calls"] = [{"function": {"name": "x"}}]
    assert fails(ToolCall(name="x", arguments={"a": 1}), odd) == (
        """expected a call to tool 'x' with arguments {"a":1}; its call had arguments null """
        """(not an object)"""
    )


def test_unserializable_trace_content_is_a_failed_result() -> None:
    trace = make_trace()
    trace.response = {"choices": [{"message": {"content": object()}}]}
    result = evaluate(Contains(value="x"), trace)
    assert not result.passed
    assert result.message.startswith("could not check contains: ")
