"""The kinds added for the trust issue, the false-positive rules, JSON and form text inside
strings, credential headers, deterministic markers, and streams of formats the engine does
not know."""

from __future__ import annotations

import pytest

from traceforge_shared.config import RedactionConfig
from traceforge_shared.redact import REDACTED, Redaction, Redactor, credential_header, is_marker
from traceforge_shared.redact.checks import (
    card_issuer,
    iban_ok,
    ipv4_context_ok,
    ipv6_ok,
    national_phone_ok,
)
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk

API = "[API_KEY_REDACTED]"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("key sk_live_FAKEfake0123456789abcd!", f"key {API}!", "stripe_key"),
        ("rk_live_FAKEfake0123456789abcd", API, "stripe_key"),
        ("sk_test_FAKEfake0123456789abcd", API, "stripe_key"),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEYX12",
            f"aws_secret_access_key={API}",
            "aws_secret_key",
        ),
        (
            "url https://hooks.slack.com/services/T0FAKE000/B0FAKE000/FAKEfakeFAKEfake01234567",
            f"url https://{API}",
            "slack_webhook",
        ),
        ("ya29.a0FAKEfake0123456789FAKEfake", API, "google_oauth"),
        ("GOCSPX-FAKEfake0123456789abcdefghij", API, "google_oauth"),
        ("SK0123456789abcdef0123456789abcdef", API, "twilio_key"),
        ("AC0123456789abcdef0123456789abcdef", API, "twilio_key"),
        (
            "SG.FAKEfake0123456789abcd.FAKEfake0123456789abcdefFAKEfake0123456789a",
            API,
            "sendgrid_key",
        ),
        (
            "AccountName=x;AccountKey=FAKEfake0123456789FAKE+/==;",
            f"AccountName=x;AccountKey={API};",
            "azure_key",
        ),
        ("hf_FAKEfakeFAKEfakeFAKEfakeFAKEfake01", API, "huggingface_token"),
        ("gsk_FAKEfake0123456789FAKEfake0123456789FAKEfake01234567", API, "groq_key"),
        (
            "postgres://admin:s3cret-P4ss@db.example.com:5432/app",
            "postgres://admin:[PASSWORD_REDACTED]@db.example.com:5432/app",
            "url_password",
        ),
        ("IBAN GB82 WEST 1234 5698 7654 32.", "IBAN [IBAN_REDACTED].", "iban"),
        ("DE89370400440532013000", "[IBAN_REDACTED]", "iban"),
        ("host 2001:db8:85a3::8a2e:370:7334 up", "host [IP_REDACTED] up", "ipv6"),
        ("fe80::1ff:fe23:4567:890a", "[IP_REDACTED]", "ipv6"),
        ("call 1-800-555-0199 now", "call [PHONE_REDACTED] now", "phone"),
        ("ring 020 7946 0958", "ring [PHONE_REDACTED]", "phone"),
        ("or 0161 496 0000", "or [PHONE_REDACTED]", "phone"),
    ],
)
def test_new_kinds(redactor: Redactor, text: str, expected: str, kind: str) -> None:
    assert redactor.redact_text(text) == (expected, [kind])


@pytest.mark.parametrize(
    "text",
    [
        "Bearer authentication is described in RFC 6750.",
        "the ring bearer walked in",
        "Authorization uses the Bearer scheme",
        "Bearer tokensaretheusualway",  # 16+ letters, one word: prose
        "version 1.2.3.4",
        "Version: 10.0.19041.1",
        "build 1.2.3.4 is out",
        "pip install foo==1.2.3.4",
        "release 4.3.2.1-beta",
        "1.2.3.4-rc1",
        "firmware 2.1.0.255",
        "order 1234567890123452",  # Luhn-valid, no issuer prefix
        "id 40000000000000006",  # Visa prefix, Luhn-valid, but 17 digits long
        "ref 7999999999999995",  # Luhn-valid, no issuer
        "2223000048400011 is fine",  # placeholder? no: a real MC range -> must be found (below)
        "slice a[1::2] and b[::3]",
        "at 12:34:56 and 08:55",
        "mac 00:1A:2B:3C:4D:5E",
        "::1 and ::",
        "IBAN GB82 WEST 1234 5698 7654 33",  # checksum fails
        "number 0123 456",
        "user=bob&remember=1",
        '{"max_tokens": 5, "tokens": "abc", "password_hint": "dog"}',
    ],
)
def test_false_positives_stay(redactor: Redactor, text: str) -> None:
    if text.startswith("2223"):
        assert redactor.redact_text(text)[1] == ["card"]
        return
    assert redactor.redact_text(text) == (text, [])


def test_bearer_before_a_token_shaped_value(redactor: Redactor) -> None:
    assert redactor.redact_text("Bearer abcdefgh12345678") == ("Bearer [REDACTED]", ["bearer"])
    assert redactor.redact_text("Bearer abcdefgh1234567")[1] == []  # 15 characters
    assert redactor.redact_text("Bearer AbcdefghIjklmnop")[1] == ["bearer"]  # mixed case


def test_ip_context_rule() -> None:
    text = "see 1.2.3.4"
    assert ipv4_context_ok(text, 4, 11)
    assert not ipv4_context_ok("version 1.2.3.4", 8, 15)
    assert not ipv4_context_ok("x ~= 1.2.3.4", 5, 12)
    assert not ipv4_context_ok("1.2.3.4-beta", 0, 7)
    assert ipv4_context_ok("version 2\nhost 1.2.3.4", 15, 22)  # other line
    assert ipv4_context_ok("host=10.0.0.1", 5, 13)


@pytest.mark.parametrize(
    ("digits", "issuer"),
    [
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),
        ("5105105105105100", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("6500000000000002", "discover"),
        ("3530111333300000", "jcb"),
        ("30569309025904", "diners"),
        ("6200000000000005", "unionpay"),
        ("2720991111111111111", None),  # Mastercard range, 19 digits
        ("2800000000000000", None),
        ("378282246310005000", None),  # Amex prefix, wrong length
        ("8000000000000000009", None),
    ],
)
def test_card_issuer(digits: str, issuer: str | None) -> None:
    assert card_issuer(digits) == issuer


def test_iban_and_ipv6_and_phone_checks() -> None:
    assert iban_ok("GB82WEST12345698765432")
    assert iban_ok("FR1420041010050500013M02606")
    assert not iban_ok("GB82WEST12345698765433")
    assert not iban_ok("GB82WEST")
    assert ipv6_ok("2001:db8::1:2")
    assert not ipv6_ok("::1")
    assert not ipv6_ok("1::2")
    assert not ipv6_ok("12:34:56")
    assert national_phone_ok("020 7946 0958")
    assert national_phone_ok("1-800-555-0199")
    assert not national_phone_ok("2026 1123 0855")
    assert not national_phone_ok("012 345")


# -- JSON and form text inside strings ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"password": "hunter2"}', '{"password": "[REDACTED]"}'),
        ('{"api_key":"abc","city":"Paris"}', '{"api_key":"[REDACTED]","city":"Paris"}'),
        ('{"pin_code": 1, "secret": 123456}', '{"pin_code": 1, "secret": "[REDACTED]"}'),
        ('{"client_secret": "cut off mid-str', '{"client_secret": "[REDACTED]'),
        ('{"a": "{\\"password\\": \\"hunter2\\"}"}', '{"a": "{\\"password\\": \\"[REDACTED]\\"}"}'),
        ("user=bob&password=hunter2&x=1", "user=bob&password=[REDACTED]&x=1"),
        (
            "grant_type=password&client_secret=abc123",
            "grant_type=password&client_secret=[REDACTED]",
        ),
        ("user[password]=hunter2", "user[password]=[REDACTED]"),
        ('{"password": ""}', '{"password": ""}'),
        ('{"password": "[REDACTED]"}', '{"password": "[REDACTED]"}'),
    ],
)
def test_sensitive_keys_in_text(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact_text(text)[0] == expected


def test_sensitive_keys_in_text_can_be_turned_off() -> None:
    redactor = Redactor(RedactionConfig(kinds={"sensitive_keys": False}))
    assert redactor.redact_text('{"password": "hunter2"}')[1] == []


# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "x-custom-token",
        "X-Auth-Token",
        "x-my-secret",
        "proxy-authorization",
        "x-functions-key",
        "x-amz-security-token",
        "cookie",
        "x-session-credentials",
        "X-Internal-Auth",
    ],
)
def test_credential_headers(name: str) -> None:
    assert credential_header(name)


@pytest.mark.parametrize(
    "name",
    [
        "x-ratelimit-remaining-tokens",
        "anthropic-ratelimit-input-tokens-limit",
        "content-type",
        "x-request-id",
        "openai-processing-ms",
        "keep-alive",
        "x-monkey-business-id",
    ],
)
def test_other_headers(name: str) -> None:
    assert not credential_header(name)


def test_custom_auth_headers_in_a_trace() -> None:
    redactor = Redactor(RedactionConfig(sensitive_keys=["x-tenant"]))
    trace = make_trace()
    trace.metadata.request_headers = {
        "x-custom-token": "abc",
        "x-tenant": "acme-42",
        "x-ratelimit-remaining-tokens": "999",
    }
    report = redactor.redact_trace(trace)
    assert trace.metadata.request_headers == {
        "x-custom-token": REDACTED,
        "x-tenant": REDACTED,
        "x-ratelimit-remaining-tokens": "999",
    }
    assert report.entries() == [
        "metadata.request_headers.x-custom-token: auth_header",
        "metadata.request_headers.x-tenant: sensitive_keys",
    ]
    off = Redactor(RedactionConfig(kinds={"auth_header": False}))
    trace.metadata.request_headers = {"x-custom-token": "abc"}
    assert off.redact_trace(trace).fields == {}


def test_warnings_and_upstream_url_are_redacted(redactor: Redactor) -> None:
    trace = make_trace()
    trace.metadata.warnings = ["bad chunk: sk-ant-api03-FAKEfakeFAKEfake0123456789abcd"]
    trace.metadata.upstream_url = "https://user:hunter2-pass@llm.internal:8443/v1"
    report = redactor.redact_trace(trace)
    assert trace.metadata.warnings == [f"bad chunk: {API}"]
    assert trace.metadata.upstream_url == "https://user:[PASSWORD_REDACTED]@llm.internal:8443/v1"
    assert set(report.fields) == {"metadata.warnings[0]", "metadata.upstream_url"}


# -- deterministic markers ------------------------------------------------------------------


def test_deterministic_markers_are_stable_per_key() -> None:
    config = RedactionConfig(deterministic=True)
    one = Redactor(config, key=b"k" * 32)
    same = Redactor(config, key=b"k" * 32)
    other = Redactor(config, key=b"x" * 32)
    text = "mail jane@example.com and bob@example.com"
    out, _ = one.redact_text(text)
    assert out == same.redact_text(text)[0] != other.redact_text(text)[0]
    first, second = out.split(" and ")
    assert first.startswith("mail [EMAIL_REDACTED:") and len(first) == len(
        "mail [EMAIL_REDACTED:abcd]"
    )
    assert first[5:] != second
    assert one.redact_text(out) == (out, [])  # never redacted again
    assert is_marker(first[5:]) and is_marker("Bearer [REDACTED:00ff]")


def test_deterministic_markers_in_keys_headers_and_streams() -> None:
    redactor = Redactor(RedactionConfig(deterministic=True), key=b"s" * 32)
    report = Redaction()
    out = redactor.redact_value({"password": "hunter2"}, "body", report)
    assert out["password"].startswith("[REDACTED:") and is_marker(out["password"])
    pieces, _ = redactor.redact_stream(["mail jane@exa", "mple.com!"])
    assert pieces[0].startswith("mail [EMAIL_REDACTED:") and pieces[1] == "!"
    assert pieces[0] == redactor.redact_text("mail jane@example.com")[0]


def test_plain_markers_by_default(redactor: Redactor) -> None:
    assert redactor.redact_text("jane@example.com")[0] == "[EMAIL_REDACTED]"


# -- unknown stream formats -----------------------------------------------------------------


def _chunks(payloads: list[dict[str, object]]) -> list[StreamChunk]:
    return [
        StreamChunk(index=i, delta_ms=1.0, offset_ms=float(i), data=p)
        for i, p in enumerate(payloads)
    ]


def test_unknown_format_string_fields_are_joined_per_path(redactor: Redactor) -> None:
    trace = make_trace(streaming=True, text="ok")
    trace.chunks = _chunks(
        [
            {"kind": "piece", "body": {"words": "my key is sk-proj-FAKE"}},
            {"kind": "piece", "body": {"words": "fake0123456789FAKEfake"}},
            {"kind": "piece", "body": {"words": "0123456789 bye"}},
        ]
    )
    report = redactor.redact_trace(trace)
    assert [c.data["body"]["words"] for c in trace.chunks] == [f"my key is {API}", "", " bye"]
    assert [c.data["kind"] for c in trace.chunks] == ["piece"] * 3
    assert report.entries() == ["chunks[0].data.body.words: api_key"]


def test_repeated_values_are_scanned_one_by_one(redactor: Redactor) -> None:
    # The same value in every chunk is not a text in pieces: joined it would read
    # "...sk-proj-FAKE...sk-proj-FAKE..." and the second copy would be cut.
    value = "contact jane@example.com"
    trace = make_trace(streaming=True, text="ok")
    trace.chunks = _chunks([{"meta": value}, {"meta": value}, {"meta": value}])
    redactor.redact_trace(trace)
    assert [c.data["meta"] for c in trace.chunks] == ["contact [EMAIL_REDACTED]"] * 3


def test_responses_events_of_two_items_are_not_joined(redactor: Redactor) -> None:
    # Joined together the two items' deltas would invent a key.
    trace = make_trace(streaming=True, text="ok")
    trace.chunks = _chunks(
        [
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "content_index": 0,
                "delta": "sk-",
            },
            {
                "type": "response.output_text.delta",
                "output_index": 1,
                "content_index": 0,
                "delta": "proj-FAKEfake0123456789FAKE",
            },
        ]
    )
    assert redactor.redact_trace(trace).fields == {}


def test_cohere_tool_plan_and_thinking(redactor: Redactor) -> None:
    trace = make_trace(streaming=True, text="ok")
    trace.chunks = _chunks(
        [
            {
                "type": "tool-plan-delta",
                "delta": {"message": {"tool_plan": "I will mail jane@exa"}},
            },
            {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "mple.com today"}}},
            {
                "type": "content-delta",
                "index": 0,
                "delta": {"message": {"content": {"thinking": "+1 415 "}}},
            },
            {
                "type": "content-delta",
                "index": 0,
                "delta": {"message": {"content": {"thinking": "555 2671"}}},
            },
        ]
    )
    redactor.redact_trace(trace)
    plans = [c.data["delta"]["message"]["tool_plan"] for c in trace.chunks[:2]]
    thinking = [c.data["delta"]["message"]["content"]["thinking"] for c in trace.chunks[2:]]
    assert "".join(plans) == "I will mail [EMAIL_REDACTED] today"
    assert "".join(thinking) == "[PHONE_REDACTED]"


def test_ipv6_found_anywhere_in_a_long_text(redactor: Redactor) -> None:
    # The IPv6 pattern runs only in windows around ":hex:" anchors: addresses at the start,
    # the end, close together and far apart are all found, and the same as without windows.
    addresses = ["2001:db8::1:2", "fe80::1ff:fe23:4567:890a", "2001:db8:85a3::8a2e:370:7334"]
    filler = "at 12:34:56 the x = a[1:3] run " * 40
    text = f"{addresses[0]} {filler}{addresses[1]} {addresses[2]} {filler}{addresses[0]}"
    out, kinds = redactor.redact_text(text)
    assert kinds == ["ipv6"] * 4
    assert not any(a in out for a in addresses)
    ipv6 = next(d for d in redactor.detectors if d.kind == "ipv6")
    assert ipv6.validate is not None
    windowed = [m.span() for m in ipv6.finditer(text) if ipv6.validate(m.group())]
    whole = [m.span() for m in ipv6.regex.finditer(text) if ipv6.validate(m.group())]
    assert windowed == whole and len(whole) == 4


def test_gemini_thought_parts_are_one_text_wherever_they_sit(redactor: Redactor) -> None:
    def chunk(parts: list[dict[str, object]]) -> dict[str, object]:
        return {"candidates": [{"index": 0, "content": {"parts": parts, "role": "model"}}]}

    trace = make_trace(streaming=True, text="ok")
    trace.chunks = _chunks(
        [
            chunk(
                [{"text": "answer ", "thought": False}, {"text": "mail jane@exa", "thought": True}]
            ),
            chunk([{"text": "mple.com now", "thought": True}]),
        ]
    )
    redactor.redact_trace(trace)
    parts = [p for c in trace.chunks for p in c.data["candidates"][0]["content"]["parts"]]
    assert "".join(str(p["text"]) for p in parts if p["thought"]) == "mail [EMAIL_REDACTED] now"


def test_deep_nesting_is_cut_not_a_crash(redactor: Redactor) -> None:
    deep: object = "jane@example.com"
    for _ in range(3000):
        deep = {"a": [deep]}
    trace = make_trace(streaming=True, text="ok")
    trace.request = {"messages": deep, "user": "bob@example.com"}
    trace.chunks = _chunks([{"x": deep}])
    report = redactor.redact_trace(trace)
    assert "jane@example.com" not in repr(trace.request)
    assert "jane@example.com" not in repr(trace.chunks[0].data)
    assert trace.request["user"] == "[EMAIL_REDACTED]"
    kinds = {kind for kinds in report.fields.values() for kind in kinds}
    assert {"too_deep", "email"} <= kinds
    # 200 levels are walked as usual.
    shallow: object = "jane@example.com"
    for _ in range(90):
        shallow = {"a": [shallow]}
    assert "too_deep" not in repr(Redactor().redact_value(shallow, "x", Redaction()))
