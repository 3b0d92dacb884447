"""Redaction of secrets and PII before traces reach disk, and scanning for them."""

from traceforge_shared.redact.detectors import DETECTORS, KINDS, SENSITIVE_KEYS, Detector
from traceforge_shared.redact.engine import REDACTED, Finding, Redaction, Redactor

__all__ = [
    "DETECTORS",
    "KINDS",
    "REDACTED",
    "SENSITIVE_KEYS",
    "Detector",
    "Finding",
    "Redaction",
    "Redactor",
]
