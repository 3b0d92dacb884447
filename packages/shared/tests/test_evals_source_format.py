"""The source documents' test format (``id``, ``fixtures``, ``type: jsonpath``,
``response_time: {max}``, fuzzy ``expected``, ``field: response.content``), its migration to
the canonical form, and redaction markers in requests (``${TRACEFORGE_*}`` variables)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from traceforge_shared.evals import evaluate_all
from traceforge_shared.evals.authoring import source_problem, test_from_trace
from traceforge_shared.evals.loader import TestFileError, load_test_file, load_test_text
from traceforge_shared.evals.migrate import migrate_text
from traceforge_shared.evals.testcase import Fuzzy, IContains, JsonPath, Latency
from traceforge_shared.evals.variables import RequestNotReady, find_markers, prepare_case
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import TraceError

DATA = Path(__file__).parent / "data" / "source-format"
EXAMPLES = sorted(DATA.glob("*.yaml"))


def test_the_source_documents_example_loads_with_every_alias() -> None:
    case = load_test_file(DATA / "holiday.yaml")
    assert case.name == "holiday-smoke"
    user = {"role": "user", "content": "Invent a new holiday and describe its traditions."}
    assert case.request["messages"] == [user]  # fixtures resolved, nested ones too
    contains, fuzzy, latency, negated, path = case.assertions
    assert contains.field == "response.choices[0].message.content"
    assert isinstance(fuzzy, Fuzzy) and fuzzy.value.startswith("**Holiday Name:** Galaxy Day")
    assert isinstance(latency, Latency) and latency.max_ms == 60000
    assert isinstance(negated, IContains) and negated.negate
    assert isinstance(path, JsonPath) and path.value == "stop" and path.field == "response"


def test_the_example_passes_against_the_mocks_recorded_answer() -> None:
    case = load_test_file(DATA / "holiday.yaml")
    trace = make_trace(text="**Holiday Name:** Galaxy Day. People go stargazing together.")
    results = evaluate_all(case.assertions, trace)
    assert all(r.passed for r in results), [r.message for r in results]
    trace = make_trace(text="I am sorry, as an AI language model I cannot invent holidays.")
    failed = {r.type for r in evaluate_all(case.assertions, trace) if not r.passed}
    assert failed == {"contains", "not-icontains"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_migrate_round_trip(path: Path) -> None:
    text = path.read_text()
    migration = migrate_text(text, path)
    assert migration.changed
    for spelling in ("id:", "jsonpath", "expected:", "not-", "response_time", "response.content"):
        assert spelling not in migration.text.replace("not_contains", ""), spelling
    assert load_test_text(migration.text, path) == load_test_file(path)
    again = migrate_text(migration.text, path)
    assert not again.changed and again.text == migration.text


def test_migrate_keeps_comments() -> None:
    migration = migrate_text((DATA / "holiday.yaml").read_text(), DATA / "holiday.yaml")
    assert "# A regression test in the source documents' style." in migration.text
    assert "# the answer text, read through the response object" in migration.text
    assert "fixtures:" in migration.text  # canonical: kept


@pytest.mark.parametrize(
    ("text", "line", "field", "reason"),
    [
        ("id: a\nname: b\nrequest: {model: m, messages: []}\n", 1, "id", "not both"),
        (
            "name: a\nrequest: {model: m, messages: ['{{ fixtures.nope }}']}\nfixtures: {x: 1}\n",
            2,
            "request.messages[0]",
            "unknown fixture 'nope' (fixtures: x)",
        ),
        (
            "name: a\nrequest: {model: m, messages: []}\nassertions:\n"
            "  - {type: latency, max: 1, max_ms: 2}\n",
            4,
            "assertions[0].max",
            "give max_ms or max",
        ),
        (
            "name: a\nrequest: {model: m, messages: []}\nassertions:\n  - {type: not-nope}\n",
            4,
            "assertions[0].type",
            "unknown assertion type 'not-nope'",
        ),
    ],
)
def test_source_format_errors_name_line_and_field(
    text: str, line: int, field: str, reason: str
) -> None:
    with pytest.raises(TestFileError) as caught:
        load_test_text(text, Path("t.yaml"))
    assert caught.value.line == line and caught.value.field == field
    assert reason in caught.value.reason


def test_top_level_response_time_and_shorthand_items() -> None:
    text = (
        "name: a\nrequest: {model: m, messages: []}\nresponse_time: {max: 900}\n"
        "assertions:\n  - contains: Paris\n"
    )
    case = load_test_text(text, Path("t.yaml"))
    assert [type(a).__name__ for a in case.assertions] == ["Contains", "Latency"]
    assert case.assertions[1] == Latency(max_ms=900)


# --- tests made from traces that would lie ------------------------------------------------------


def test_source_problem_refuses_failed_aborted_and_partial_traces() -> None:
    assert source_problem(make_trace()) is None
    failed = make_trace(status="error", status_code=401)
    failed.metadata.error = TraceError(type="invalid_api_key", message="Incorrect API key")
    assert "failed (error, HTTP 401: Incorrect API key)" in (source_problem(failed) or "")
    aborted = make_trace(status="client_disconnected", streaming=True)
    assert "hung up" in (source_problem(aborted) or "")
    assert "incomplete" in (source_problem(make_trace(status="incomplete")) or "")
    partial = make_trace(streaming=True)
    response = dict(partial.response)
    response["choices"] = [{**response["choices"][0], "finish_reason": None}]
    assert "without a finish reason" in (
        source_problem(msgspec.structs.replace(partial, response=response)) or ""
    )


def test_redacted_values_become_variables_filled_at_run_time() -> None:
    trace = make_trace()
    request = {
        "model": "gpt-4o-mini",
        "messages": [
            {
                "role": "user",
                "content": "Mail [EMAIL_REDACTED:3f2a] and cc [EMAIL_REDACTED:77aa]; "
                "again [EMAIL_REDACTED:3f2a], key [API_KEY_REDACTED]",
            }
        ],
    }
    trace = msgspec.structs.replace(trace, request=request)
    text = test_from_trace(trace)
    case = load_test_text(text, Path("t.yaml"))
    assert find_markers(case.request) == []
    content = case.request["messages"][0]["content"]
    assert content == (
        "Mail ${TRACEFORGE_EMAIL_1} and cc ${TRACEFORGE_EMAIL_2}; "
        "again ${TRACEFORGE_EMAIL_1}, key ${TRACEFORGE_API_KEY_1}"
    )
    with pytest.raises(RequestNotReady, match="TRACEFORGE_EMAIL_2, TRACEFORGE_API_KEY_1"):
        prepare_case(case, {"TRACEFORGE_EMAIL_1": "a@example.com"})
    env = {
        "TRACEFORGE_EMAIL_1": "a@example.com",
        "TRACEFORGE_EMAIL_2": "b@example.com",
        "TRACEFORGE_API_KEY_1": "k",
        "HOME": "/root",
    }
    sent = prepare_case(case, env)
    assert sent.request["messages"][0]["content"] == (
        "Mail a@example.com and cc b@example.com; again a@example.com, key k"
    )
    typed = test_from_trace(trace, marker_values={"[EMAIL_REDACTED:3f2a]": "me@example.com"})
    assert "me@example.com" in typed and "${TRACEFORGE_EMAIL_1}" in typed  # 77aa


def test_a_request_still_holding_a_marker_is_not_sent() -> None:
    text = (
        "name: a\nrequest: {model: m, messages: [{role: user, content: 'hi [EMAIL_REDACTED]'}]}\n"
    )
    with pytest.raises(RequestNotReady, match=r"redaction marker \[EMAIL_REDACTED\]"):
        prepare_case(load_test_text(text, Path("t.yaml")), {})
    shell = "name: a\nrequest: {model: m, messages: [{role: user, content: 'echo ${HOME}'}]}\n"
    case = load_test_text(shell, Path("t.yaml"))
    assert prepare_case(case, {}) is case  # only ${TRACEFORGE_*} are variables
