"""Detector corpus: planted secrets and PII in many formats are replaced by the right marker,
and ordinary text (numbers, dates, ids, versions, code, markdown) is left alone."""

from __future__ import annotations

import json

import pytest

from traceforge_shared.config import CustomPattern, RedactionConfig
from traceforge_shared.redact import KINDS, Redactor
from traceforge_shared.redact.detectors import luhn_ok

API = "[API_KEY_REDACTED]"
EMAIL = "[EMAIL_REDACTED]"
PHONE = "[PHONE_REDACTED]"
CARD = "[CARD_REDACTED]"
SSN = "[SSN_REDACTED]"
JWT = "[JWT_REDACTED]"
PEM = "[PRIVATE_KEY_REDACTED]"
IP = "[IP_REDACTED]"
BEARER = "Bearer [REDACTED]"

# Obviously fake values in the issuers' formats.
OPENAI = "sk-FAKEfake0123456789FAKEfake0123456789abcd"
OPENAI_PROJ = "sk-proj-FAKE_test-0123456789abcdefghijKLMNOPQRSTUV"
OPENAI_SVC = "sk-svcacct-FAKEtest0123456789abcdefghijklmn"
ANTHROPIC = "sk-ant-api03-FAKEfakeFAKEfake0123456789-abcdefghijklmnopqrstuv_wxyzAA"
GOOGLE = "AIzaSyFAKE-fake_0123456789abcdefghijklm"  # AIza + 35
XAI = "xai-FAKEfake0123456789FAKEfake0123456789abcdefgh"
AWS = "AKIAIOSFODNN7EXAMPLE"
GH_PAT = "ghp_FAKEfake0123456789FAKEfake0123456789"
GH_OAUTH = "gho_FAKEfake0123456789FAKEfake0123456789"
GH_FINE = "github_pat_11FAKEFAKE0ABCDEFxyz01234_56789FAKEfakeFAKEfake0123456789abcdefFAKEfake"
SLACK = "xoxb-1234567890-1234567890123-FAKEfakeFAKEfake01234567"
JWT_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkZha2UgVXNlciJ9"
    ".FAKEsignatureFAKEsignature_0123-abc"
)
PEM_RSA = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE\n"
    "FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE==\n"
    "-----END RSA PRIVATE KEY-----"
)
PEM_EC = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEoAoGCCqGSM49\n"
    "-----END EC PRIVATE KEY-----"
)
PEM_OPENSSH = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQFAKEFAKEFAKEFAKEFAKE\n"
    "AAAAC3NzaC1lZDI1NTE5AAAAIFAKEFAKEFAKEFAKEFAKEFAKEFAKE\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
PEM_PKCS8 = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANFAKEFAKE\n-----END PRIVATE KEY-----"

PLANTED: list[tuple[str, str, str]] = [
    # (id, value, marker)
    ("openai", OPENAI, API),
    ("openai-proj", OPENAI_PROJ, API),
    ("openai-svcacct", OPENAI_SVC, API),
    ("anthropic", ANTHROPIC, API),
    ("google", GOOGLE, API),
    ("xai", XAI, API),
    ("aws", AWS, API),
    ("aws-asia", "ASIAFAKEFAKE01234567", API),
    ("github-ghp", GH_PAT, API),
    ("github-gho", GH_OAUTH, API),
    ("github-fine-grained", GH_FINE, API),
    ("slack-bot", SLACK, API),
    ("jwt", JWT_TOKEN, JWT),
    ("pem-rsa", PEM_RSA, PEM),
    ("pem-ec", PEM_EC, PEM),
    ("pem-openssh", PEM_OPENSSH, PEM),
    ("pem-pkcs8", PEM_PKCS8, PEM),
    ("email", "jane.doe@example.com", EMAIL),
    ("email-plus", "jane.doe+newsletter@example.com", EMAIL),
    ("email-subdomain", "ops-team@mail.eu.example.co.uk", EMAIL),
    ("email-underscore", "first_last99@sub-domain.example.org", EMAIL),
    ("phone-us-e164-spaced", "+1 415 555 2671", PHONE),
    ("phone-uk", "+44 20 7946 0958", PHONE),
    ("phone-e164-compact", "+14155552671", PHONE),
    ("phone-e164-dashed", "+1-415-555-2671", PHONE),
    ("phone-e164-paren", "+1 (415) 555-2671", PHONE),
    ("phone-fr", "+33 1 23 45 67 89", PHONE),
    ("phone-paren", "(415) 555-2671", PHONE),
    ("phone-dashed", "415-555-2671", PHONE),
    ("phone-dotted", "415.555.2671", PHONE),
    ("phone-spaced", "415 555 2671", PHONE),
    ("visa", "4111111111111111", CARD),
    ("visa-spaces", "4111 1111 1111 1111", CARD),
    ("visa-dashes", "4111-1111-1111-1111", CARD),
    ("visa-2", "4012888888881881", CARD),
    ("mastercard", "5555555555554444", CARD),
    ("mastercard-spaces", "5555 5555 5555 4444", CARD),
    ("mastercard-2series", "2223003122003222", CARD),
    ("amex", "378282246310005", CARD),
    ("amex-spaces", "3782 822463 10005", CARD),
    ("amex-dashes", "3714-496353-98431", CARD),
    ("discover", "6011111111111117", CARD),
    ("discover-spaces", "6011 1111 1111 1117", CARD),
    ("ssn", "123-45-6789", SSN),
    ("ipv4-private", "192.168.1.23", IP),
    ("ipv4-ten", "10.0.0.1", IP),
    ("ipv4-public", "203.0.113.7", IP),
    ("ipv4-max", "255.255.255.254", IP),
]

#: Surroundings a value is planted in: prose, punctuation, quotes, code and JSON.
CONTEXTS = [
    "{}",
    "Here it is: {}.",
    "({})",
    "<{}>",
    "'{}'",
    'value = "{}"\n',
    "first line\n{}\nlast line",
]


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize(
    ("value", "marker"), [(v, m) for _, v, m in PLANTED], ids=[i for i, _, _ in PLANTED]
)
@pytest.mark.parametrize("context", CONTEXTS)
def test_planted_value_is_replaced_by_its_marker(
    redactor: Redactor, context: str, value: str, marker: str
) -> None:
    text = context.format(value)
    out, kinds = redactor.redact_text(text)
    assert out == context.format(marker)
    assert value not in out
    assert len(kinds) == 1


@pytest.mark.parametrize(
    ("value", "marker"), [(v, m) for _, v, m in PLANTED], ids=[i for i, _, _ in PLANTED]
)
def test_planted_value_inside_a_json_string(redactor: Redactor, value: str, marker: str) -> None:
    # As JSON text (PEM newlines become "\n" escapes) and as the decoded string.
    text = json.dumps({"role": "user", "content": f"my value is {value} ok"})
    out, _ = redactor.redact_text(text)
    assert value not in out and json.dumps(value)[1:-1] not in out
    assert json.loads(out)["content"] == f"my value is {marker} ok"


def test_kind_names_reported(redactor: Redactor) -> None:
    text = (
        f"{OPENAI} {BEARER.split()[0]} abcdefgh12345678 {JWT_TOKEN} {PEM_EC} a@example.com "
        "4111 1111 1111 1111 123-45-6789 415-555-2671 10.1.2.3"
    )
    out, kinds = redactor.redact_text(text)
    assert kinds == [
        "api_key",
        "bearer",
        "jwt",
        "private_key",
        "email",
        "card",
        "ssn",
        "phone",
        "ipv4",
    ]
    assert out == f"{API} {BEARER} {JWT} {PEM} {EMAIL} {CARD} {SSN} {PHONE} {IP}"
    # Every reported name is a kind; the kinds added later are covered by
    # test_redact_corpus.py::test_every_kind_is_found.
    assert set(kinds) <= set(KINDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer [REDACTED]"),
        ("authorization: bearer abc.def-ghi_jkl/mn+o==", "authorization: Bearer [REDACTED]"),
        # A bearer header holding a key or a JWT: one finding, the header form wins.
        (f"Authorization: Bearer {OPENAI_PROJ}", "Authorization: Bearer [REDACTED]"),
        (f"Authorization: Bearer {JWT_TOKEN}", "Authorization: Bearer [REDACTED]"),
        (
            f"curl -H 'Authorization: Bearer {OPENAI}' https://api.example.com",
            "curl -H 'Authorization: Bearer [REDACTED]' https://api.example.com",
        ),
    ],
)
def test_bearer_tokens(redactor: Redactor, text: str, expected: str) -> None:
    out, kinds = redactor.redact_text(text)
    assert out == expected
    assert kinds == ["bearer"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (f'client = OpenAI(api_key="{OPENAI_PROJ}")', f'client = OpenAI(api_key="{API}")'),
        (
            f"export AWS_ACCESS_KEY_ID={AWS}\nexport REGION=eu-west-1",
            f"export AWS_ACCESS_KEY_ID={API}\nexport REGION=eu-west-1",
        ),
        (
            f"const anthropic = new Anthropic({{ apiKey: '{ANTHROPIC}' }});",
            f"const anthropic = new Anthropic({{ apiKey: '{API}' }});",
        ),
        (f"GITHUB_TOKEN={GH_FINE} make release", f"GITHUB_TOKEN={API} make release"),
        (f'headers = {{"x-goog-api-key": "{GOOGLE}"}}', f'headers = {{"x-goog-api-key": "{API}"}}'),
        (f"key_pem = '''{PEM_RSA}'''", f"key_pem = '''{PEM}'''"),
        (
            "send_to('jane.doe+test@example.com', phone='+1 415 555 2671')",
            f"send_to('{EMAIL}', phone='{PHONE}')",
        ),
        ("requests.get('http://10.20.30.40:8080/api')", f"requests.get('http://{IP}:8080/api')"),
    ],
)
def test_planted_in_code(redactor: Redactor, code: str, expected: str) -> None:
    assert redactor.redact_text(code)[0] == expected


def test_several_secrets_in_one_text_keep_the_text_between(redactor: Redactor) -> None:
    text = f"Contact jane@example.com or +44 20 7946 0958; key {XAI}; card 6011-1111-1111-1117."
    out, kinds = redactor.redact_text(text)
    assert out == f"Contact {EMAIL} or {PHONE}; key {API}; card {CARD}."
    assert kinds == ["email", "phone", "api_key", "card"]


def test_find_reports_positions_of_the_original_text(redactor: Redactor) -> None:
    text = f"a {GH_PAT} b jane@example.com"
    findings = redactor.find(text)
    assert [(f.kind, text[f.start : f.end], f.marker) for f in findings] == [
        ("api_key", GH_PAT, API),
        ("email", "jane@example.com", EMAIL),
    ]


def test_fine_grained_github_token_alone_is_found(redactor: Redactor) -> None:
    # Regression: "github_pat_" holds no "gh", so it needs its own hint or the api_key
    # pattern never runs on a text holding only this token.
    assert "gh" not in GH_FINE
    assert redactor.redact_text(f"token: {GH_FINE}") == (f"token: {API}", ["api_key"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Regression: a number right after the card (expiry, CVV) must not be taken into the
        # match, which then failed the Luhn check and left the card in place.
        ("4111 1111 1111 1111 12/29", f"{CARD} 12/29"),
        ("Card: 5555 5555 5555 4444 09 27 cvv 123", f"Card: {CARD} 09 27 cvv 123"),
        ("4111-1111-1111-1111 123", f"{CARD} 123"),
        ("4111111111111111-12", f"{CARD}-12"),
        ("amex 3782 822463 10005 exp 01/30", f"amex {CARD} exp 01/30"),
        ("4012888888881881 4111111111111111", f"{CARD} {CARD}"),
    ],
)
def test_card_followed_by_a_number(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact_text(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Regression: the closing parenthesis after a number is not part of it.
        ("call(+14155552671)", f"call({PHONE})"),
        ("(tel +44 20 7946 0958)", f"(tel {PHONE})"),
        ("+44 (0)20 7946 0958", PHONE),
        ("+1 (415) 555-2671 ext", f"{PHONE} ext"),
    ],
)
def test_phone_parentheses(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact_text(text)[0] == expected


def test_luhn() -> None:
    assert luhn_ok("4111 1111 1111 1111")
    assert not luhn_ok("4111 1111 1111 1112")
    assert not luhn_ok("411111111111")  # too few digits


# -- false positives -------------------------------------------------------------------------

UNTOUCHED = [
    "42",
    "There are 1234567 rows and 89 columns.",
    "The price is $1,299.99 (or 1299.99 EUR, 12.5% off).",
    "Total: 4,111,111.11 USD",
    "Meeting on 2026-11-23 and again on 11/23/2026 or 23.11.2026.",
    "at 12:34:56 or 08:55:54.123456 or 7:05 pm",
    "2026-11-23T08:55:54.123456Z",
    "2024-08-06T12:34:56.123+02:00",
    "created: 1763888154",
    "created_ms: 1763888154123",
    "created_us: 1763888154123456",
    "version 1.2.3",
    "pip install foo==v2.10.4",
    "Python 3.12.1 and node v20.11.0",
    "550e8400-e29b-41d4-a716-446655440000",
    "Your order ORD-123-456 shipped.",
    "Order #100234 is ready",
    "chatcmpl-9xAbCdEfGhIjKlMnOpQrStUvWxYz12",
    '{"id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL", "object": "chat.completion.chunk"}',
    "call_abc123DEF456ghi789JKL",
    '{"tool_call_id": "call_Xy12Ab34Cd56Ef78Gh90Ij12"}',
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 (9f2c1e7)",
    "4111111111111112",  # Visa prefix, fails Luhn
    "1234567890123456",  # fails Luhn and no issuer prefix
    "8000000000000000009",  # passes Luhn, 19 digits, no issuer prefix
    "SSN-like 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000",
    "999.1.1.1",
    "256.100.1.1 and 10.0.0.256 and 1.2.3.4.5 and 01.2.3.4",
    "x = a @ b",
    "for i in range(10):\n    total += arr[1:3][i] * 1.0e-5",
    "y = x[-1] + 3.141592653589793",
    "if a >= b and c != d: return None",
    "const f = (a, b) => a + b; let v = arr.slice(1, 3);",
    "@decorator\ndef f(x: int = 0x7fffffff) -> float: ...",
    "sk-short",
    "sk-abc123 is a placeholder",
    "sk-" + "a" * 19,
    "task-abcdefghijklmnopqrstuvwxyz0123",
    "ghp_tooShort123",
    "AIza" + "a" * 30,
    "AKIA",
    "model gpt-4o-2024-08-06 and claude-3-5-sonnet-20241022 and gpt-3.5-turbo-0125",
    "# Title\n\n- item 1\n- item 2\n\n**bold** _it_ `code`\n\n"
    "[link](https://example.com/path?x=1&y=2)\n\n| a | b |\n|---|---|\n| 1 | 2 |",
    "user@localhost and @mention and foo@bar",
    "2+2=4, +100%, a + 12 + 34, page 1 of 10",
    "ISBN 978-3-16-148410-0",
    "lat 37.7749, lon -122.4194",
    "bearer tokens",
    "Loopback 127.0.0.1 and any 0.0.0.0",
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_ordinary_text_is_untouched(redactor: Redactor, text: str) -> None:
    out, kinds = redactor.redact_text(text)
    assert kinds == []
    assert out == text
    assert redactor.find(text) == []


def test_empty_text(redactor: Redactor) -> None:
    assert redactor.redact_text("") == ("", [])


# -- configuration ---------------------------------------------------------------------------


def test_allowlist_keeps_exact_strings() -> None:
    default = Redactor()
    assert default.redact_text("listen on 127.0.0.1 not 127.0.0.2") == (
        f"listen on 127.0.0.1 not {IP}",
        ["ipv4"],
    )
    custom = Redactor(RedactionConfig(allowlist=["test@example.com"]))
    out, _ = custom.redact_text("test@example.com and real@example.com and 127.0.0.1")
    assert out == f"test@example.com and {EMAIL} and {IP}"


def test_disabling_a_kind() -> None:
    redactor = Redactor(RedactionConfig(kinds={"ipv4": False}))
    out, kinds = redactor.redact_text("server 10.1.2.3, mail jane@example.com")
    assert out == f"server 10.1.2.3, mail {EMAIL}"
    assert kinds == ["email"]


def test_disabling_phone_disables_both_phone_detectors() -> None:
    redactor = Redactor(RedactionConfig(kinds={"phone": False}))
    text = "+44 20 7946 0958 or (415) 555-2671"
    assert redactor.redact_text(text) == (text, [])


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown redaction kind"):
        RedactionConfig(kinds={"ip": False})


def test_custom_pattern() -> None:
    config = RedactionConfig(patterns=[CustomPattern(name="employee_id", regex=r"EMP-\d{6}")])
    redactor = Redactor(config)
    out, kinds = redactor.redact_text("Ask EMP-004217 (jane@example.com), not EMP-12.")
    assert out == f"Ask [EMPLOYEE_ID_REDACTED] ({EMAIL}), not EMP-12."
    assert kinds == ["employee_id", "email"]
    assert Redactor().redact_text("EMP-004217")[0] == "EMP-004217"


def test_only_secrets_ignores_pii_but_not_keys() -> None:
    config = RedactionConfig(
        patterns=[
            CustomPattern(name="employee_id", regex=r"EMP-\d{6}", secret=False),
            CustomPattern(name="vault_token", regex=r"hvs\.[A-Za-z0-9]{10,}"),
        ]
    )
    redactor = Redactor(config, only_secrets=True)
    text = (
        f"jane@example.com +1 415 555 2671 4111 1111 1111 1111 123-45-6789 10.1.2.3 "
        f"EMP-004217 {OPENAI} {JWT_TOKEN} hvs.FAKEfake0123"
    )
    out, kinds = redactor.redact_text(text)
    assert out == (
        "jane@example.com +1 415 555 2671 4111 1111 1111 1111 123-45-6789 10.1.2.3 "
        f"EMP-004217 {API} {JWT} [VAULT_TOKEN_REDACTED]"
    )
    assert kinds == ["api_key", "jwt", "vault_token"]


def test_disabled_config_finds_nothing() -> None:
    redactor = Redactor(RedactionConfig(enabled=False))
    text = f"{OPENAI} jane@example.com"
    assert redactor.redact_text(text) == (text, [])


# -- idempotence -----------------------------------------------------------------------------


def test_markers_are_never_redetected(redactor: Redactor) -> None:
    markers = [
        API,
        EMAIL,
        PHONE,
        CARD,
        SSN,
        JWT,
        PEM,
        IP,
        BEARER,
        "[REDACTED]",
        "Authorization: Bearer [REDACTED]",
        "[EMPLOYEE_ID_REDACTED]",
    ]
    for marker in markers:
        assert redactor.find(marker) == [], marker
    text = " | ".join(context.format(value) for _, value, _ in PLANTED for context in CONTEXTS[:2])
    once, kinds = redactor.redact_text(text)
    assert len(kinds) == 2 * len(PLANTED)
    twice, kinds_again = redactor.redact_text(once)
    assert twice == once
    assert kinds_again == []
    for _, value, _ in PLANTED:
        assert value not in once


def test_custom_marker_is_not_redetected() -> None:
    redactor = Redactor(
        RedactionConfig(patterns=[CustomPattern(name="ticket", regex=r"TICKET-\d+")])
    )
    once, _ = redactor.redact_text("see TICKET-42")
    assert once == "see [TICKET_REDACTED]"
    assert redactor.redact_text(once) == (once, [])
