"""detect-secrets as a second opinion in ``redact check`` and the pre-commit hook: it reads
what our redaction would leave, so it reports only what our detectors miss."""

from __future__ import annotations

from pathlib import Path

from traceforge_shared.redact import Redactor
from traceforge_shared.redact.scan import scan_bytes, scan_file
from traceforge_shared.redact.second_opinion import detect_secrets_findings
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

GITLAB = "glpat-FAKEfake0123456789ab"  # a kind only detect-secrets knows
STRIPE = "sk_live_FAKEfake0123456789abcdef"  # both know it


def test_findings_give_line_and_type() -> None:
    text = f"clean\ntoken = '{GITLAB}'\n{STRIPE}\n"
    assert detect_secrets_findings(text) == [(2, "GitLab Token"), (3, "Stripe Access Key")]
    assert detect_secrets_findings("nothing here\n{}\n") == []


def test_text_file_reports_what_our_detectors_miss_once() -> None:
    data = f"a = '{GITLAB}'\nb = '{STRIPE}'\n".encode()
    leaks = scan_bytes(Redactor(), data, "conf.py")
    assert [(x.where, x.kind) for x in leaks] == [
        ("line 2", "stripe_key"),
        ("line 1", "detect-secrets: GitLab Token"),
    ]
    assert GITLAB not in repr(leaks) and STRIPE not in repr(leaks)


def test_line_numbers_hold_after_a_multi_line_finding() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEFAKE" + "A" * 60 + "\n-----END RSA PRIVATE KEY-----"
    data = f"{pem}\nx\ntoken = '{GITLAB}'\n".encode()
    leaks = scan_bytes(Redactor(), data, "notes.txt")
    assert [(x.where, x.kind) for x in leaks] == [
        ("line 1", "private_key"),
        ("line 5", "detect-secrets: GitLab Token"),
    ]


def test_second_opinion_can_be_turned_off() -> None:
    assert scan_bytes(Redactor(), f"{GITLAB}\n".encode(), "a.txt", second_opinion=False) == []


def test_trace_file_is_read_after_redaction(tmp_path: Path) -> None:
    store = TraceStore(tmp_path, fsync=False)
    path = store.save(make_trace(text=f"use {GITLAB} or {STRIPE}"))
    leaks = scan_file(Redactor(), path)
    assert sorted((x.where, x.kind) for x in leaks) == [
        ("redacted trace", "detect-secrets: GitLab Token"),
        ("response.choices[0].message.content", "stripe_key"),
    ]
    clean = store.save(make_trace(text="nothing to see"))
    assert scan_file(Redactor(), clean) == []
