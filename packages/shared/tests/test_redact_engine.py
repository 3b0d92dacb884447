"""The redaction engine on JSON values, split streams and whole traces."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from traceforge_shared.config import RedactionConfig
from traceforge_shared.redact import REDACTED, Redaction, Redactor
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, Trace, TraceError

KEY = "sk-proj-FAKEfake0123456789FAKEfake0123456789"
KEY2 = "sk-ant-api03-FAKEfakeFAKEfake0123456789abcd"
GH = "ghp_FAKEfake0123456789FAKEfake0123456789"
EMAIL = "jane.doe+test@example.com"
PHONE = "+1 415 555 2671"
PLANTED = (KEY, KEY2, GH, EMAIL, PHONE, "jane.doe", "FAKEfake0123456789")

API_M = "[API_KEY_REDACTED]"
EMAIL_M = "[EMAIL_REDACTED]"
PHONE_M = "[PHONE_REDACTED]"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


# -- redact_value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "API-KEY",
        "Api_Key",
        "password",
        "access_token",
        "client_secret",
        "apiKey",
        "x-api-key",
        "Authorization",
        "refresh_token",
        "private_key",
        " password ",
    ],
)
def test_sensitive_keys_by_whole_name(redactor: Redactor, key: str) -> None:
    report = Redaction()
    out = redactor.redact_value({key: "hunter2-not-a-pattern", "other": "x"}, "body", report)
    assert out == {key: REDACTED, "other": "x"}
    assert report.entries() == [f"body.{key}: sensitive_keys"]


def test_sensitive_key_with_a_number_value(redactor: Redactor) -> None:
    report = Redaction()
    assert redactor.redact_value({"password": 123456}, "r", report) == {"password": REDACTED}


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "prompt_tokens",
        "total_tokens",
        "completion_tokens",
        "token",
        "tokens",
        "secret_santa_message",
        "password_hint_shown",
        "keyboard",
        "top_logprobs",
        "api",
    ],
)
def test_other_keys_stay(redactor: Redactor, key: str) -> None:
    value = {key: "just a value 42"}
    report = Redaction()
    out = redactor.redact_value(value, "body", report)
    assert out is value
    assert out == {key: "just a value 42"}
    assert report.entries() == []


def test_logprobs_token_fields_stay(redactor: Redactor) -> None:
    logprobs = {
        "content": [
            {
                "token": "Hello",
                "logprob": -0.01,
                "bytes": [72, 101],
                "top_logprobs": [{"token": "Hi", "logprob": -4.5, "bytes": [72, 105]}],
            },
        ]
    }
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    body = {"choices": [{"logprobs": logprobs}], "usage": usage, "max_tokens": 100}
    snapshot = copy.deepcopy(body)
    report = Redaction()
    assert redactor.redact_value(body, "response", report) is body
    assert body == snapshot
    assert report.entries() == []


def test_sensitive_keys_leave_empty_null_bool_and_containers(redactor: Redactor) -> None:
    value = {
        "password": "",
        "api_key": None,
        "secret": True,
        "credentials": {"user": "bob"},
        "access_token": ["a", "b"],
        "client_secret": REDACTED,
    }
    report = Redaction()
    assert redactor.redact_value(value, "b", report) is value
    assert report.entries() == []


def test_nested_lists_and_dicts(redactor: Redactor) -> None:
    value: dict[str, Any] = {
        "model": "gpt-4o",
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"My mail is {EMAIL}, key {KEY}"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ],
        "metadata": {"auth": {"client_secret": "abc", "nested": [[f"call {PHONE}"]]}},
    }
    original = copy.deepcopy(value)
    report = Redaction()
    out = redactor.redact_value(value, "request", report)
    assert out == {
        "model": "gpt-4o",
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"My mail is {EMAIL_M}, key {API_M}"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ],
        "metadata": {"auth": {"client_secret": REDACTED, "nested": [[f"call {PHONE_M}"]]}},
    }
    assert value == original  # a copy, the input is not changed
    # Unchanged sub-containers are shared, not copied.
    assert out["messages"][0] is value["messages"][0]
    assert out["messages"][1]["content"][1] is value["messages"][1]["content"][1]
    assert out["messages"] is not value["messages"]
    assert report.entries() == [
        "request.messages[1].content[0].text: api_key,email",
        "request.metadata.auth.client_secret: sensitive_keys",
        "request.metadata.auth.nested[0][0]: phone",
    ]


def test_unchanged_containers_are_the_same_object(redactor: Redactor) -> None:
    for value in ({"a": [1, 2, {"b": "c"}]}, [["x"], {"y": None}], {}, [], "plain", 42, None):
        assert redactor.redact_value(value, "v", Redaction()) is value


def test_sensitive_keys_kind_can_be_turned_off() -> None:
    redactor = Redactor(RedactionConfig(kinds={"sensitive_keys": False}))
    value = {"password": "hunter2", "note": EMAIL}
    assert redactor.redact_value(value, "b", Redaction()) == {
        "password": "hunter2",
        "note": EMAIL_M,
    }


def test_extra_sensitive_keys_from_config() -> None:
    redactor = Redactor(RedactionConfig(sensitive_keys=["X-Internal-Token"]))
    out = redactor.redact_value(
        {"x_internal_token": "abc", "x-internal-token": "d"}, "b", Redaction()
    )
    assert out == {"x_internal_token": REDACTED, "x-internal-token": REDACTED}


# -- redact_stream ---------------------------------------------------------------------------


def _check_stream(redactor: Redactor, pieces: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    new, where = redactor.redact_stream(pieces)
    assert len(new) == len(pieces)
    assert "".join(new) == redactor.redact_text("".join(pieces))[0]
    return new, where


def test_stream_secret_split_across_two_pieces(redactor: Redactor) -> None:
    pieces = ["my key is sk-proj-FAKE", "fake0123456789FAKEfake0123456789 ok"]
    new, where = _check_stream(redactor, pieces)
    assert new == [f"my key is {API_M}", " ok"]
    assert where == [(0, "api_key")]


def test_stream_secret_split_across_three_pieces(redactor: Redactor) -> None:
    pieces = ["write to jane.d", "oe+test@exam", "ple.com please"]
    new, where = _check_stream(redactor, pieces)
    assert new == [f"write to {EMAIL_M}", "", " please"]
    assert where == [(0, "email")]


def test_stream_two_secrets_in_one_piece(redactor: Redactor) -> None:
    pieces = ["hi ", f"{KEY} and {EMAIL}!", " bye"]
    new, where = _check_stream(redactor, pieces)
    assert new == ["hi ", f"{API_M} and {EMAIL_M}!", " bye"]
    assert where == [(1, "api_key"), (1, "email")]


def test_stream_secret_at_the_very_end(redactor: Redactor) -> None:
    pieces = ["the key: ", KEY[:10], KEY[10:]]
    new, where = _check_stream(redactor, pieces)
    assert new == ["the key: ", API_M, ""]
    assert where == [(1, "api_key")]


def test_stream_secret_starting_at_a_piece_boundary(redactor: Redactor) -> None:
    pieces = ["mail: ", EMAIL, " and ", PHONE[:4], PHONE[4:]]
    new, where = _check_stream(redactor, pieces)
    assert new == ["mail: ", EMAIL_M, " and ", PHONE_M, ""]
    assert where == [(1, "email"), (3, "phone")]


def test_stream_secret_spanning_empty_pieces(redactor: Redactor) -> None:
    pieces = ["", KEY[:5], "", KEY[5:20], "", KEY[20:], ""]
    new, where = _check_stream(redactor, pieces)
    assert new == ["", API_M, "", "", "", "", ""]
    assert where == [(1, "api_key")]


def test_stream_without_findings_returns_the_same_list(redactor: Redactor) -> None:
    pieces = ["Hello", " there", "!"]
    new, where = redactor.redact_stream(pieces)
    assert new is pieces
    assert where == []


@pytest.mark.parametrize(
    "text",
    [
        f"a {KEY} b {EMAIL} c {PHONE} d 4111 1111 1111 1111 e",
        f"{GH}{' '}{KEY2}",
    ],
)
def test_stream_every_split_point(redactor: Redactor, text: str) -> None:
    step = 3
    for i in range(0, len(text) + 1, step):
        for j in range(i, len(text) + 1, step):
            new, _ = _check_stream(redactor, [text[:i], text[i:j], text[j:]])
            for secret in (KEY, EMAIL, GH, KEY2):
                assert secret not in "".join(new)


# -- traces ----------------------------------------------------------------------------------


def _chunk(i: int, data: Any = None, raw: str | None = None) -> StreamChunk:
    return StreamChunk(index=i, delta_ms=1.0, offset_ms=float(i + 1), data=data, raw=raw)


def _content(piece: str | None, **delta: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-FAKE123",
        "object": "chat.completion.chunk",
        "created": 1763888154,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": piece, **delta}, "finish_reason": None}],
    }


def _tool(index: int, piece: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-FAKE123",
        "object": "chat.completion.chunk",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [{"index": index, **extra, "function": {"arguments": piece}}]
                },
            }
        ],
    }


def _anthropic(index: int, piece: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "text_delta", "text": piece},
    }


def _stream_trace(pieces: list[str]) -> Trace:
    text = "".join(pieces)
    trace = make_trace(streaming=True, text=text)
    trace.chunks = [_chunk(0, _content("", role="assistant"))]
    trace.chunks += [_chunk(i + 1, _content(p)) for i, p in enumerate(pieces)]
    trace.chunks.append(_chunk(len(pieces) + 1, raw="[DONE]"))
    return trace


def _deltas(trace: Trace) -> str:
    out = []
    for chunk in trace.chunks:
        if isinstance(chunk.data, dict) and chunk.data.get("choices"):
            content = chunk.data["choices"][0]["delta"].get("content")
            if isinstance(content, str):
                out.append(content)
    return "".join(out)


def _arguments(trace: Trace, index: int) -> list[str]:
    out = []
    for chunk in trace.chunks:
        for call in chunk.data["choices"][0]["delta"].get("tool_calls", []):
            if call["index"] == index:
                out.append(call["function"]["arguments"])
    return out


def _assert_no_planted(trace: Trace, *extra: str) -> None:
    from traceforge_shared.store.files import encode_trace

    stored = encode_trace(trace).decode()
    for value in (*PLANTED, *extra):
        assert value not in stored, value
    for entry in trace.metadata.redacted_fields:
        for value in (*PLANTED, *extra):
            assert value not in entry


def test_trace_content_split_across_chunks(redactor: Redactor) -> None:
    pieces = [
        "Your key is sk-pr",
        "oj-FAKEfake01234",
        "56789FAKEfake0123456789",
        " and mail ",
        "jane.doe+te",
        "st@example.com.",
    ]
    trace = _stream_trace(pieces)
    assert (
        trace.response["choices"][0]["message"]["content"] == f"Your key is {KEY} and mail {EMAIL}."
    )

    assert redactor.before_save(trace) is trace

    redacted = f"Your key is {API_M} and mail {EMAIL_M}."
    assert trace.response["choices"][0]["message"]["content"] == redacted
    assert _deltas(trace) == redacted
    assert [trace.chunks[i].data["choices"][0]["delta"]["content"] for i in range(1, 7)] == [
        f"Your key is {API_M}",
        "",
        "",
        " and mail ",
        EMAIL_M,
        ".",
    ]
    assert trace.chunks[-1].raw == "[DONE]"
    assert trace.chunks[1].data["id"] == "chatcmpl-FAKE123"
    assert trace.metadata.redacted_fields == [
        "chunks[1].data.choices[0].delta.content: api_key",
        "chunks[5].data.choices[0].delta.content: email",
        "response.choices[0].message.content: api_key,email",
    ]
    _assert_no_planted(trace)


def test_trace_tool_call_arguments_split_across_chunks(redactor: Redactor) -> None:
    args = [
        '{"to": "jane.d',
        'oe+test@example.com", "token": "sk-proj-FAKE',
        "fake0123456789",
        'FAKEfake0123456789"}',
    ]
    trace = make_trace(streaming=True)
    trace.chunks = [_chunk(0, _tool(0, "", id="call_FAKE1", type="function"))]
    trace.chunks[0].data["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] = "send"
    trace.chunks += [_chunk(i + 1, _tool(0, p)) for i, p in enumerate(args)]

    redactor.before_save(trace)

    new = _arguments(trace, 0)
    assert "".join(new) == f'{{"to": "{EMAIL_M}", "token": "{API_M}"}}'
    assert new == ["", f'{{"to": "{EMAIL_M}', f'", "token": "{API_M}', "", '"}']
    first = trace.chunks[0].data["choices"][0]["delta"]["tool_calls"][0]
    assert first["id"] == "call_FAKE1" and first["function"]["name"] == "send"
    path = "data.choices[0].delta.tool_calls[0].function.arguments"
    assert trace.metadata.redacted_fields == [
        f"chunks[1].{path}: email",
        f"chunks[2].{path}: api_key",
    ]
    _assert_no_planted(trace)


def test_trace_parallel_tool_calls_are_not_joined(redactor: Redactor) -> None:
    # Call 0 carries a key split in two; call 1 an email split in two. Interleaved, they
    # would read "sk-proj-FAKEjane.d..." if joined with each other.
    trace = make_trace(streaming=True)
    trace.chunks = [
        _chunk(0, _tool(0, '{"k": "sk-proj-FAKE')),
        _chunk(1, _tool(1, '{"e": "jane.d')),
        _chunk(2, _tool(0, 'fake0123456789FAKEfake0123456789"}')),
        _chunk(3, _tool(1, 'oe+test@example.com"}')),
    ]
    redactor.before_save(trace)
    assert _arguments(trace, 0) == [f'{{"k": "{API_M}', '"}']
    assert _arguments(trace, 1) == [f'{{"e": "{EMAIL_M}', '"}']
    path = "data.choices[0].delta.tool_calls[{}].function.arguments"
    assert trace.metadata.redacted_fields == [
        f"chunks[0].{path.format(0)}: api_key",
        f"chunks[1].{path.format(1)}: email",
    ]
    _assert_no_planted(trace)


def test_trace_parallel_tool_calls_joining_would_invent_a_match(redactor: Redactor) -> None:
    # Joined across calls, "jane.doe" + "@example.com" would be an email; per call it is not.
    trace = make_trace(streaming=True)
    trace.chunks = [
        _chunk(0, _tool(0, '{"user": "jane.doe')),
        _chunk(1, _tool(1, '@example.com is a domain"}')),
        _chunk(2, _tool(0, '"}')),
    ]
    before = copy.deepcopy(trace.chunks)
    redactor.before_save(trace)
    assert trace.chunks == before
    assert [f for f in trace.metadata.redacted_fields if f.startswith("chunks")] == []


def test_trace_anthropic_text_deltas(redactor: Redactor) -> None:
    trace = make_trace(streaming=True, provider="anthropic")
    trace.chunks = [
        _chunk(0, {"type": "message_start", "message": {"id": "msg_FAKE", "content": []}}),
        _chunk(
            1,
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        _chunk(2, _anthropic(1, f"Call {PHONE[:6]}")),
        _chunk(3, _anthropic(1, f"{PHONE[6:]} or write to jane.doe+te")),
        _chunk(4, _anthropic(1, "st@example.com")),
        _chunk(
            5,
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"key": "ghp_FAKE'},
            },
        ),
        _chunk(
            6,
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {
                    "type": "input_json_delta",
                    "partial_json": 'fake0123456789FAKEfake0123456789"}',
                },
            },
        ),
        _chunk(7, {"type": "message_stop"}),
    ]
    redactor.before_save(trace)
    texts = [c.data["delta"]["text"] for c in trace.chunks[2:5]]
    assert texts == [f"Call {PHONE_M}", f" or write to {EMAIL_M}", ""]
    partial = [c.data["delta"]["partial_json"] for c in trace.chunks[5:7]]
    assert partial == ['{"key": "[API_KEY_REDACTED]', '"}']
    assert trace.chunks[2].data["delta"]["type"] == "text_delta"
    assert trace.metadata.redacted_fields == [
        "chunks[2].data[index=1].delta.text: phone",
        "chunks[3].data[index=1].delta.text: email",
        "chunks[5].data[index=2].delta.partial_json: api_key",
    ]
    _assert_no_planted(trace)


def test_trace_raw_chunks(redactor: Redactor) -> None:
    trace = make_trace(streaming=True)
    trace.chunks = [
        _chunk(0, raw="upstream said: bad key sk-proj-FAKE"),
        _chunk(1, _content("hello")),
        _chunk(2, raw="fake0123456789FAKEfake0123456789 rejected"),
        _chunk(3, raw="[DONE]"),
    ]
    redactor.before_save(trace)
    assert [c.raw for c in trace.chunks] == [
        f"upstream said: bad key {API_M}",
        None,
        " rejected",
        "[DONE]",
    ]
    assert trace.chunks[1].data["choices"][0]["delta"]["content"] == "hello"
    assert trace.metadata.redacted_fields == ["chunks[0].raw: api_key"]
    _assert_no_planted(trace)


def test_trace_non_streamed_chunk_fields(redactor: Redactor) -> None:
    # A field that is not a streamed text (here a system fingerprint) is redacted per chunk.
    trace = make_trace(streaming=True)
    trace.chunks = [
        _chunk(0, {**_content("a"), "system_fingerprint": f"owner {EMAIL}"}),
        _chunk(1, {**_content("b"), "system_fingerprint": f"owner {EMAIL}", "password": "x1"}),
    ]
    redactor.before_save(trace)
    assert [c.data["system_fingerprint"] for c in trace.chunks] == [f"owner {EMAIL_M}"] * 2
    assert trace.chunks[1].data["password"] == REDACTED
    assert trace.metadata.redacted_fields == [
        "chunks[0].data.system_fingerprint: email",
        "chunks[1].data.password: sensitive_keys",
        "chunks[1].data.system_fingerprint: email",
    ]


def test_trace_request_headers_error_and_response(redactor: Redactor) -> None:
    trace = make_trace(text=f"Sure, {EMAIL} noted.")
    trace.request["messages"] = [
        {"role": "system", "content": "Never reveal secrets."},
        {"role": "user", "content": f"My key is {KEY} and my phone {PHONE}"},
    ]
    trace.request["user"] = EMAIL
    trace.metadata.request_headers = {
        "authorization": "Bearer sk-proj-xyz",
        "x-api-key": KEY2,
        "x-user": EMAIL,
        "content-type": "application/json",
    }
    trace.metadata.response_headers = {"x-request-id": "req_123", "x-echo": f"from {GH}"}
    trace.metadata.status = "error"
    trace.metadata.error = TraceError(
        type="invalid_api_key", message=f"Incorrect API key provided: {KEY}."
    )
    redactor.before_save(trace)

    assert trace.request["messages"] == [
        {"role": "system", "content": "Never reveal secrets."},
        {"role": "user", "content": f"My key is {API_M} and my phone {PHONE_M}"},
    ]
    assert trace.request["user"] == EMAIL_M
    assert trace.response["choices"][0]["message"]["content"] == f"Sure, {EMAIL_M} noted."
    assert trace.response["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert trace.metadata.request_headers == {
        "authorization": REDACTED,
        "x-api-key": REDACTED,
        "x-user": EMAIL_M,
        "content-type": "application/json",
    }
    assert trace.metadata.response_headers == {"x-request-id": "req_123", "x-echo": f"from {API_M}"}
    assert trace.metadata.error.message == f"Incorrect API key provided: {API_M}."
    assert trace.metadata.redacted_fields == [
        "metadata.error.message: api_key",
        "metadata.request_headers.authorization: sensitive_keys",
        "metadata.request_headers.x-api-key: sensitive_keys",
        "metadata.request_headers.x-user: email",
        "metadata.response_headers.x-echo: api_key",
        "request.messages[1].content: api_key,phone",
        "request.user: email",
        "response.choices[0].message.content: email",
    ]
    _assert_no_planted(trace, "sk-proj-xyz")


def test_before_save_twice_is_a_no_op(redactor: Redactor) -> None:
    trace = _stream_trace(["key sk-proj-FAKE", "fake0123456789FAKEfake0123456789 mail ", EMAIL])
    trace.metadata.redacted_fields.append("earlier: addon")
    redactor.before_save(trace)
    first = copy.deepcopy(trace)
    redactor.before_save(trace)
    assert trace == first
    assert trace.metadata.redacted_fields[0] == "earlier: addon"
    assert len(trace.metadata.redacted_fields) == len(set(trace.metadata.redacted_fields)) == 4


def test_redact_trace_returns_report_without_touching_redacted_fields(
    redactor: Redactor,
) -> None:
    trace = _stream_trace(["mail ", EMAIL])
    report = redactor.redact_trace(trace)
    assert report.entries() == [
        "chunks[2].data.choices[0].delta.content: email",
        "response.choices[0].message.content: email",
    ]
    assert trace.metadata.redacted_fields == []


def test_disabled_config_leaves_trace_as_is() -> None:
    trace = _stream_trace(["key sk-proj-FAKE", "fake0123456789FAKEfake0123456789 ", EMAIL])
    trace.request["api_key"] = KEY
    trace.metadata.request_headers = {"x-user": EMAIL, "authorization": "Bearer abcdefgh1234"}
    trace.metadata.error = TraceError(type="x", message=KEY)
    before = copy.deepcopy(trace)
    Redactor(RedactionConfig(enabled=False)).before_save(trace)
    assert trace == before
    assert trace.metadata.redacted_fields == []


def test_clean_trace_is_unchanged(redactor: Redactor) -> None:
    trace = make_trace(streaming=True, text="The answer is 42, version 1.2.3, on 2026-11-23.")
    before = copy.deepcopy(trace)
    redactor.before_save(trace)
    assert trace == before


def test_chunk_deltas_equal_response_after_redaction_at_every_split(
    redactor: Redactor,
) -> None:
    text = f"Reach me at {EMAIL} or {PHONE}; my key is {KEY}."
    for cut in range(1, len(text), 4):
        trace = _stream_trace([text[:cut], text[cut : cut + 7], text[cut + 7 :]])
        redactor.before_save(trace)
        expected = f"Reach me at {EMAIL_M} or {PHONE_M}; my key is {API_M}."
        assert trace.response["choices"][0]["message"]["content"] == expected
        assert _deltas(trace) == expected, cut


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1111 on file",  # ASCII: the digit look-up by `in`
        "carte bancaire réglée: 4111 1111 1111 1111",  # not ASCII: the regex look-up
        "\u0663\u0664 then 4111-1111-1111-1111",  # Arabic-Indic digits before it
    ],
)
def test_digit_detectors_run_whatever_the_script(redactor: Redactor, text: str) -> None:
    assert [f.kind for f in redactor.find(text)] == ["card"]


def test_texts_without_digits_skip_the_digit_detectors(redactor: Redactor) -> None:
    text = "call me at (five five five) or mail x@y.org; ssn - none; ip a.b.c.d " * 50
    assert [f.kind for f in redactor.find(text)] == ["email"] * 50
