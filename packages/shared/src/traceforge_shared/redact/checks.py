"""Checks run on a candidate match after its regular expression matched: checksums (Luhn,
IBAN mod-97), issuer prefixes, address validity, and the context rules that keep versions,
English words and slices from being taken for secrets.

Each ``*_ok(value)`` takes the matched text and returns whether it is a real finding; each
``*_context_ok(text, start, end)`` also sees the text around the match. None raises.
"""

from __future__ import annotations

import ipaddress
import re


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


def card_issuer(digits: str) -> str | None:
    """The card network whose issuer identification number (IIN) range and length ``digits``
    fit, or ``None``: Visa 4 (13, 16, 19 digits), Mastercard 51-55 and 2221-2720 (16), Amex
    34/37 (15), Discover 6011, 644-649, 65 (16-19), JCB 3528-3589 (16-19), Diners Club 300-305,
    36, 38-39 (14-19), UnionPay 62 (16-19)."""
    n = len(digits)
    two, four = int(digits[:2] or 0), int(digits[:4] or 0)
    if digits.startswith("4"):
        return "visa" if n in (13, 16, 19) else None
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard" if n == 16 else None
    if two in (34, 37):
        return "amex" if n == 15 else None
    if 16 <= n <= 19:
        if four == 6011 or 644 <= int(digits[:3]) <= 649 or two == 65:
            return "discover"
        if 3528 <= four <= 3589:
            return "jcb"
        if two == 62:
            return "unionpay"
    if 14 <= n <= 19 and (300 <= int(digits[:3]) <= 305 or two in (36, 38, 39)):
        return "diners"
    return None


def card_ok(text: str) -> bool:
    """A card number: a known issuer prefix and length (:func:`card_issuer`) and Luhn."""
    digits = "".join(c for c in text if c.isdigit())
    return card_issuer(digits) is not None and luhn_ok(digits)


def ssn_ok(text: str) -> bool:
    """A US SSN ``AAA-GG-SSSS``: no area 000, 666 or 9xx, no group 00, no serial 0000."""
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def phone_digits_ok(text: str) -> bool:
    """8-15 digits (E.164)."""
    return 8 <= sum(c.isdigit() for c in text) <= 15


def ipv4_ok(text: str) -> bool:
    """Four decimal parts 0-255 without leading zeros."""
    return all(int(part) <= 255 and (part == "0" or part[0] != "0") for part in text.split("."))


#: Words after which a dotted number is a version: ``version 1.2.3.4``, ``build: 10.0.19041.1``,
#: ``foo==1.2.3.4``. (``v1.2.3.4`` is never taken: the pattern wants no letter before.)
_VERSION_BEFORE = re.compile(
    r"(?:\b(?:version|ver|release|build|rev|revision|tag|firmware)\s*[:=#]?\s*|(?:[=<>~!]=|[~^])\s*)$",
    re.IGNORECASE,
)
#: After the number: a pre-release or build suffix (``1.2.3.4-beta``, ``1.2.3.4+build5``).
_VERSION_AFTER = re.compile(r"[-+][A-Za-z]")


def ipv4_context_ok(text: str, start: int, end: int) -> bool:
    """Not a version: the 24 characters before the match (same line) do not end with a
    version word or a comparison operator, and no ``-beta``/``+build`` suffix follows."""
    before = text[max(0, start - 24) : start].rsplit("\n", 1)[-1]
    if before and _VERSION_BEFORE.search(before):
        return False
    return _VERSION_AFTER.match(text, end) is None


def ipv6_ok(text: str) -> bool:
    """A valid IPv6 address with at least three non-empty groups (so ``::``, ``::1``, slices
    such as ``a[1::2]`` and times such as ``12:34:56`` are not), not loopback or unspecified."""
    if sum(1 for part in text.split(":") if part) < 3:
        return False
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


_TOKEN_PUNCT = frozenset("._~+/-")


def bearer_token_ok(token: str) -> bool:
    """Token-shaped, not an English word: 16+ characters of the token alphabet with a digit,
    a punctuation mark of the alphabet (``._~+/-``) or an upper-case letter after the first
    character (so ``Bearer authentication`` is prose)."""
    token = token.rstrip("=")
    if len(token) < 16:
        return False
    return (
        any(c.isdigit() for c in token)
        or any(c in _TOKEN_PUNCT for c in token)
        or any(c.isupper() for c in token[1:])
    )


def bearer_ok(text: str) -> bool:
    """:func:`bearer_token_ok` on the token after ``Bearer``."""
    return bearer_token_ok(text.split(None, 1)[-1])


def iban_ok(text: str) -> bool:
    """An IBAN: 15-34 characters once spaces are removed, and the ISO 13616 mod-97 check."""
    iban = text.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def mixed_base64_ok(text: str) -> bool:
    """A random-looking key: upper- and lower-case letters and a digit (not a word or a
    hex digest)."""
    return (
        any(c.isdigit() for c in text)
        and any(c.isupper() for c in text)
        and any(c.islower() for c in text)
    )


def national_phone_ok(text: str) -> bool:
    """A valid number in national format (leading 0, UK style ``020 7946 0958``, or US
    ``1-800-555-0199``), as the ``phonenumbers`` library's metadata says."""
    import phonenumbers

    digits = "".join(c for c in text if c.isdigit())
    region = "US" if digits.startswith("1") else "GB"
    if not 10 <= len(digits) <= 11:
        return False
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def not_marker(text: str) -> bool:
    """Not one of our own placeholders (``[REDACTED]``, ``[EMAIL_REDACTED:3f2a]``)."""
    return not (text.startswith("[") and "REDACTED" in text)
