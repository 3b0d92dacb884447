"""What counts as a secret or PII: one regular expression per kind, with its marker.

Formats follow the issuers' published key formats and the gitleaks (``config/gitleaks.toml``)
and detect-secrets (``detect_secrets/plugins``) rule sets: OpenAI ``sk-``/``sk-proj-``,
Anthropic ``sk-ant-``, Google ``AIza`` + 35 and OAuth ``ya29.``/``GOCSPX-``, xAI ``xai-``, AWS
access key ids ``AKIA``/``ASIA`` + 16 and secret access keys (40 characters, by context),
GitHub ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``/``github_pat_``, Slack ``xox?-`` and
webhooks, Stripe ``sk_live_``/``rk_live_``/``sk_test_``, Twilio ``SK``/``AC`` + 32 hex,
SendGrid ``SG.``, Azure storage keys and ``AccountKey=``, Hugging Face ``hf_``, Groq ``gsk_``;
RFC 7519 for JWTs, RFC 7468 for PEM private key blocks, RFC 3986 for passwords in URLs.
Card numbers must start with a known issuer prefix of the right length and pass Luhn; IBANs
must pass mod-97; national phone numbers are checked with ``phonenumbers``; dotted versions
are not IPs (:mod:`traceforge_shared.redact.checks`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from traceforge_shared.redact.checks import (
    bearer_ok,
    card_ok,
    iban_ok,
    ipv4_context_ok,
    ipv4_ok,
    ipv6_ok,
    luhn_ok,
    mixed_base64_ok,
    national_phone_ok,
    phone_digits_ok,
    ssn_ok,
)

__all__ = ["DETECTORS", "KINDS", "SENSITIVE_KEYS", "Detector", "luhn_ok", "normalize_key"]


@dataclass(frozen=True)
class Detector:
    """One kind of secret or PII.

    Attributes:
        kind: name used in config (``redaction.kinds``) and in ``redacted_fields``.
        pattern: regular expression source.
        marker: what replaces a match in stored traces.
        secret: a credential (checked by the pre-commit hook by default) rather than PII.
        validate: extra check on the matched text (Luhn for cards).
        hints: substrings of which a text must contain one for a match to be possible; the
            pattern is not run on texts without any (most texts: this is what keeps scanning
            fast). Empty: always run.
        min_length: length of the shortest possible match; shorter texts are not scanned.
        digits: every match holds a digit; texts without one are not scanned (the engine
            looks for a digit once per text, for every such detector).
        group: the capturing group that is replaced (0: the whole match); the rest of the
            match is context that stays (``postgres://user:`` before a password).
        context: check on ``(text, start, end)`` of the replaced span, for rules that look
            around the match (a version word before a dotted number).
        prefilter: cheap test on the whole text, run after ``hints``, before the pattern.
        anchor: a pattern led by a literal that every match contains; the main pattern then
            runs only in windows of ``window`` characters around the anchor's matches (for
            patterns that cannot start with a literal, such as IPv6 addresses).
        window: the longest possible match, for ``anchor``.
        regex: the compiled pattern.
    """

    kind: str
    pattern: str
    marker: str
    secret: bool
    validate: Callable[[str], bool] | None = None
    hints: tuple[str, ...] = ()
    min_length: int = 1
    digits: bool = False
    group: int = 0
    context: Callable[[str, int, int], bool] | None = None
    prefilter: Callable[[str], bool] | None = None
    anchor: str | None = None
    window: int = 0
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    anchor_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))
        anchor = re.compile(self.anchor) if self.anchor is not None else None
        object.__setattr__(self, "anchor_regex", anchor)

    def may_match(self, text: str) -> bool:
        """Whether ``text`` is long enough, contains one of the hints (or there are none) and
        passes the prefilter."""
        if len(text) < self.min_length:
            return False
        if self.hints and not any(hint in text for hint in self.hints):
            return False
        return self.prefilter is None or self.prefilter(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Matches of the pattern in ``text`` (only near the anchor's matches, if any)."""
        if self.anchor_regex is None:
            yield from self.regex.finditer(text)
            return
        lo = hi = -1
        for hit in self.anchor_regex.finditer(text):
            start, end = max(0, hit.start() - self.window), hit.end() + self.window
            if start > hi:
                if hi > lo:
                    yield from self.regex.finditer(text, lo, min(hi, len(text)))
                lo = start
            hi = max(hi, end)
        if hi > lo:
            yield from self.regex.finditer(text, lo, min(hi, len(text)))


API = "[API_KEY_REDACTED]"


def _key(
    kind: str,
    pattern: str,
    hints: tuple[str, ...],
    min_length: int = 15,
    *,
    group: int = 0,
    validate: Callable[[str], bool] | None = None,
) -> Detector:
    """A credential detector with the API key marker."""
    return Detector(
        kind,
        pattern,
        API,
        secret=True,
        validate=validate,
        hints=hints,
        min_length=min_length,
        group=group,
    )


# Each pattern starts with a literal or a digit, so Python's regex engine skips ahead to
# candidate positions in C; word-boundary checks come right after the first character as
# fixed-width look-behinds (a leading \b or look-behind makes the engine try every position).
#: Built-in detectors. Where matches overlap, the earlier one wins, then the one listed first.
DETECTORS: tuple[Detector, ...] = (
    Detector(
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
        "[PRIVATE_KEY_REDACTED]",
        secret=True,
        hints=("PRIVATE KEY-----",),
        min_length=60,
    ),
    Detector(
        "bearer",
        # Token-shaped values only: "Bearer authentication" and "ring bearer" are prose.
        r"[Bb](?<!\w[Bb])earer\s+[A-Za-z0-9._~+/-]{16,}=*",
        "Bearer [REDACTED]",
        secret=True,
        validate=bearer_ok,
        hints=("earer",),
        min_length=23,
    ),
    Detector(
        "jwt",
        r"eyJ(?<!\weyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "[JWT_REDACTED]",
        secret=True,
        hints=("eyJ",),
        min_length=32,
    ),
    Detector(
        "url_password",
        # scheme://user:password@host: only the password is replaced.
        r"://[^\s/:@\[\]]{1,128}:([^\s/@\[\]]{1,256})@(?=[\w.\[-])",
        "[PASSWORD_REDACTED]",
        secret=True,
        hints=("://",),
        min_length=8,
        group=1,
    ),
    # One detector per key format, each pattern starting with its literal prefix: Python's
    # regex engine jumps between occurrences of a leading literal in C, but tries every
    # position of the text for an alternation of literals (10x slower on long texts).
    _key(
        "stripe_key",
        r"[sr]k(?<!\w[sr]k)_(?:live|test|prod)_[A-Za-z0-9]{10,99}",
        ("k_live_", "k_test_", "k_prod_"),
    ),
    _key(
        "slack_webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,80}",
        ("hooks.slack.com/",),
    ),
    _key("google_oauth", r"ya29\.(?<!\wya29\.)[0-9A-Za-z_-]{20,}", ("ya29.",)),
    _key("google_oauth", r"GOCSPX-(?<!\wGOCSPX-)[A-Za-z0-9_-]{28}", ("GOCSPX-",)),
    _key("twilio_key", r"SK(?<!\wSK)[0-9a-f]{32}(?![0-9A-Za-z])", ("SK",), 34),
    _key("twilio_key", r"AC(?<!\wAC)[0-9a-f]{32}(?![0-9A-Za-z])", ("AC",), 34),
    _key("sendgrid_key", r"SG\.(?<!\wSG\.)[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}", ("SG.",)),
    _key("azure_key", r"AccountKey=([A-Za-z0-9+/]{20,100}={0,2})", ("AccountKey=",), group=1),
    _key(
        "azure_key",
        r"[A-Za-z0-9+/](?<![A-Za-z0-9+/][A-Za-z0-9+/])[A-Za-z0-9+/]{85}==",
        ("==",),
        88,
        validate=mixed_base64_ok,
    ),
    _key("huggingface_token", r"hf_(?<!\whf_)[A-Za-z0-9]{34,40}(?![A-Za-z0-9])", ("hf_",)),
    _key("groq_key", r"gsk_(?<!\wgsk_)[A-Za-z0-9]{48,56}(?![A-Za-z0-9])", ("gsk_",)),
    _key(
        "aws_secret_key",
        # 40 characters of base64 near "secret" (aws_secret_access_key, SecretAccessKey...).
        r"(?i:secret)[\w.-]{0,24}[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        ("secret", "Secret", "SECRET"),
        46,
        group=1,
    ),
    *(
        _key("api_key", pattern, hints)
        for pattern, hints in (
            (r"sk-(?<!\wsk-)(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}", ("sk-",)),
            (r"AIza(?<!\wAIza)[0-9A-Za-z_-]{35}", ("AIza",)),
            (r"xai-(?<!\wxai-)[A-Za-z0-9]{20,}", ("xai-",)),
            (r"A(?<!\wA)(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}(?!\w)", ("AKIA", "ASIA", "ABIA", "ACCA")),
            (r"gh(?<!\wgh)[pousr]_[A-Za-z0-9]{36,}", ("gh",)),
            (r"github_pat_(?<!\wgithub_pat_)[A-Za-z0-9_]{22,}", ("github_pat_",)),
            (r"xox(?<!\wxox)[abposr]-[A-Za-z0-9-]{10,}", ("xox",)),
        )
    ),
    Detector(
        "email",
        # Starts at a word start only (the look-behind), so each word is scanned once.
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
        "[EMAIL_REDACTED]",
        secret=False,
        hints=("@",),
        min_length=6,
    ),
    Detector(
        "card",
        # Lazy: the shortest run of 13+ digits ending at a word end, so a number written after
        # the card ("4111 1111 1111 1111 12/29") is not taken in (the Luhn check would fail).
        r"\d(?<!\w\d)(?:[ -]?\d){12,18}?(?!\w)",
        "[CARD_REDACTED]",
        secret=False,
        validate=card_ok,
        min_length=13,
        digits=True,
    ),
    Detector(
        "iban",
        r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
        r"(?![A-Za-z0-9])",
        "[IBAN_REDACTED]",
        secret=False,
        validate=iban_ok,
        min_length=15,
        digits=True,
    ),
    Detector(
        "ssn",
        r"\d(?<![\w-]\d)\d\d-\d\d-\d{4}(?![\w-])",
        "[SSN_REDACTED]",
        secret=False,
        validate=ssn_ok,
        hints=("-",),
        min_length=11,
        digits=True,
    ),
    Detector(
        "phone",
        r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,5}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        validate=phone_digits_ok,
        hints=("+",),
        min_length=9,
        digits=True,
    ),
    Detector(
        "phone",
        r"\((?<![\w-]\()\d{3}\) ?\d{3}[ .-]\d{4}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        hints=("(",),
        min_length=13,
        digits=True,
    ),
    Detector(
        "phone",
        # US with the trunk prefix: 1-800-555-0199, 1 (800) 555 0199.
        r"1(?<![\w+-]1)[ .-]\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        validate=national_phone_ok,
        hints=("-", ".", " "),
        min_length=14,
        digits=True,
    ),
    Detector(
        "phone",
        r"\d(?<![\w-]\d)\d\d[ .-]\d{3}[ .-]\d{4}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        hints=("-", ".", " "),
        min_length=12,
        digits=True,
    ),
    Detector(
        "phone",
        # National numbers with a leading 0 (UK: 020 7946 0958, 0161 496 0000), checked
        # against the numbering plan by ``phonenumbers``.
        r"0(?<![\w+.-]0)\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        validate=national_phone_ok,
        hints=(" ", "-"),
        min_length=12,
        digits=True,
    ),
    Detector(
        "ipv4",
        r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\w|\.\d)",
        "[IP_REDACTED]",
        secret=False,
        validate=ipv4_ok,
        context=ipv4_context_ok,
        hints=(".",),
        min_length=7,
        digits=True,
    ),
    Detector(
        "ipv6",
        r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*"
        r"(?:\d{1,3}(?:\.\d{1,3}){3})?(?![\w:.])",
        "[IP_REDACTED]",
        secret=False,
        validate=ipv6_ok,
        hints=(":",),
        min_length=6,
        # Every address with 3+ groups has a group between two colons (``:db8:``).
        anchor=r":[0-9A-Fa-f]{1,4}:",
        window=45,
    ),
)

#: Kinds that are not one regular expression: header names (any header whose name holds
#: key, token, secret or auth, or is configured) and values of sensitive JSON/form keys.
HEADER_KINDS: tuple[str, ...] = ("auth_header",)

KINDS: tuple[str, ...] = (*dict.fromkeys(d.kind for d in DETECTORS), *HEADER_KINDS)

#: JSON object keys whose values are credentials, compared as whole names after lower-casing
#: and turning ``-`` into ``_`` (so ``max_tokens`` or ``prompt_tokens`` never match).
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "x_goog_api_key",
        "secret",
        "client_secret",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "password",
        "passwd",
        "passphrase",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "session_token",
        "bearer_token",
        "authorization",
        "private_key",
        "credentials",
    }
)


def normalize_key(key: str) -> str:
    """Key as compared against :data:`SENSITIVE_KEYS`."""
    return key.strip().lower().replace("-", "_")


_HEADER_PART = re.compile(r"[-_ ]+")
_HEADER_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "cookie", "credential"}
    | {"credentials", "accesskey", "secretkey", "accesstoken", "authtoken", "sessiontoken"}
)


def credential_header(name: str) -> bool:
    """Whether a header's name says its value is a credential: one of its ``-``/``_``
    separated words starts with ``auth`` or is key, apikey, token, secret, password, cookie,
    credential(s) or a compound such as accesstoken (``x-api-key``, ``x-auth-token``,
    ``proxy-authorization``, ``x-amz-security-token``), but not ``tokens`` (rate-limit
    counters such as ``x-ratelimit-remaining-tokens``)."""
    for part in _HEADER_PART.split(name.strip().lower()):
        if part.startswith("auth") or part in _HEADER_WORDS:
            return True
    return False
