"""What counts as a secret or PII: one regular expression per kind, with its marker.

Formats follow the issuers' published key formats (OpenAI ``sk-``/``sk-proj-``, Anthropic
``sk-ant-``, Google ``AIza`` + 35, xAI ``xai-``, AWS access key ids ``AKIA``/``ASIA`` + 16,
GitHub ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``/``github_pat_``, Slack ``xox?-``), RFC 7519
for JWTs, RFC 7468 for PEM private key blocks. Card numbers must pass the Luhn check and start
with a known issuer prefix (Visa, Mastercard, Amex, Discover), so order numbers, timestamps and
ids are left alone; phone numbers need 8-15 digits (E.164).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field


def luhn_ok(text: str) -> bool:
    """Whether the digits of ``text`` (13-19 of them) pass the Luhn checksum."""
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _phone_digits_ok(text: str) -> bool:
    return 8 <= sum(c.isdigit() for c in text) <= 15


@dataclass(frozen=True)
class Detector:
    """One kind of secret or PII.

    Attributes:
        kind: name used in config (``redaction.kinds``) and in ``redacted_fields``.
        pattern: regular expression source (no capturing groups needed).
        marker: what replaces a match in stored traces.
        secret: a credential (checked by the pre-commit hook by default) rather than PII.
        validate: extra check on the matched text (Luhn for cards).
        hints: substrings of which a text must contain one for a match to be possible; the
            pattern is not run on texts without any (most texts: this is what keeps scanning
            fast). Empty: always run.
        min_length: length of the shortest possible match; shorter texts are not scanned.
        digits: every match holds a digit; texts without one are not scanned (the engine
            looks for a digit once per text, for every such detector).
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
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    def may_match(self, text: str) -> bool:
        """Whether ``text`` is long enough and contains one of the hints (or there are
        none)."""
        if len(text) < self.min_length:
            return False
        return not self.hints or any(hint in text for hint in self.hints)


_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6011|65")


def _card_ok(text: str) -> bool:
    digits = "".join(c for c in text if c.isdigit())
    return bool(_CARD_PREFIX.match(digits)) and luhn_ok(digits)


def _ssn_ok(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ipv4_ok(text: str) -> bool:
    return all(int(part) <= 255 and (part == "0" or part[0] != "0") for part in text.split("."))


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
        r"[Bb](?<!\w[Bb])earer\s+[A-Za-z0-9._~+/-]{8,}=*",
        "Bearer [REDACTED]",
        secret=True,
        hints=("earer",),
        min_length=15,
    ),
    Detector(
        "jwt",
        r"eyJ(?<!\weyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "[JWT_REDACTED]",
        secret=True,
        hints=("eyJ",),
        min_length=32,
    ),
    # One detector per key format, each pattern starting with its literal prefix: Python's
    # regex engine jumps between occurrences of a leading literal in C, but tries every
    # position of the text for an alternation of literals (10x slower on long texts).
    *(
        Detector(
            "api_key",
            pattern,
            "[API_KEY_REDACTED]",
            secret=True,
            hints=hints,
            min_length=15,
        )
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
        validate=_card_ok,
        min_length=13,
        digits=True,
    ),
    Detector(
        "ssn",
        r"\d(?<![\w-]\d)\d\d-\d\d-\d{4}(?![\w-])",
        "[SSN_REDACTED]",
        secret=False,
        validate=_ssn_ok,
        hints=("-",),
        min_length=11,
        digits=True,
    ),
    Detector(
        "phone",
        r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,5}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        validate=_phone_digits_ok,
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
        r"\d(?<![\w-]\d)\d\d[ .-]\d{3}[ .-]\d{4}(?![\w-])",
        "[PHONE_REDACTED]",
        secret=False,
        hints=("-", ".", " "),
        min_length=12,
        digits=True,
    ),
    Detector(
        "ipv4",
        r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\w|\.\d)",
        "[IP_REDACTED]",
        secret=False,
        validate=_ipv4_ok,
        hints=(".",),
        min_length=7,
        digits=True,
    ),
)

KINDS: tuple[str, ...] = tuple(dict.fromkeys(d.kind for d in DETECTORS))

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
