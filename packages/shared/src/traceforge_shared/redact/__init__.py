"""Redaction of secrets and PII before traces reach disk, and scanning for them."""

from traceforge_shared.redact.detectors import (
    DETECTORS,
    KINDS,
    SENSITIVE_KEYS,
    Detector,
    credential_header,
)
from traceforge_shared.redact.engine import Finding, Redaction, Redactor
from traceforge_shared.redact.placeholders import REDACTED, is_marker, keyed

__all__ = [
    "DETECTORS",
    "KINDS",
    "REDACTED",
    "SENSITIVE_KEYS",
    "Detector",
    "Finding",
    "Redaction",
    "Redactor",
    "credential_header",
    "is_marker",
    "keyed",
]
