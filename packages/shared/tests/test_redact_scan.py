"""Scanning files and trace stores for unredacted values (``redact check`` and the hook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from traceforge_shared.redact import Redactor
from traceforge_shared.redact.scan import iter_files, scan_bytes, scan_file
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace

KEY = "sk-proj-FAKEfake0123456789FAKEfake0123456789"
EMAIL = "jane.doe+test@example.com"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake\n"
    "FAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfake\n"
    "-----END RSA PRIVATE KEY-----\n"
)


def _split_key_trace(store: TraceStore) -> Path:
    """A stored streaming trace whose API key is split over two chunks (as if saved by an
    old TraceForge without redaction)."""
    trace = make_trace(streaming=True, text="a b c")
    pieces = ["Key: " + KEY[:12], KEY[12:], " done"]
    for chunk, piece in zip(trace.chunks, pieces, strict=True):
        chunk.data["choices"][0]["delta"]["content"] = piece
    assert trace.response is not None
    trace.response["choices"][0]["message"]["content"] = "".join(pieces)
    return store.save(trace)


def test_text_file_findings_give_line_and_kind_not_value(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(f"first line\nmail {EMAIL}\n\nkey={KEY}\n", encoding="utf-8")
    leaks = scan_file(Redactor(), path)
    assert [(leak.where, leak.kind) for leak in leaks] == [
        ("line 2", "email"),
        ("line 4", "api_key"),
    ]
    assert all(KEY not in repr(leak) and EMAIL not in repr(leak) for leak in leaks)


def test_private_key_block_spanning_lines_is_found_at_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "deploy.sh"
    path.write_text("#!/bin/sh\ncat > key.pem <<EOF\n" + PEM + "EOF\n", encoding="utf-8")
    assert [(x.where, x.kind) for x in scan_file(Redactor(), path)] == [("line 3", "private_key")]


def test_secret_split_across_stream_chunks_is_found_in_a_trace_file(tmp_path: Path) -> None:
    store = TraceStore(tmp_path, fsync=False)
    path = _split_key_trace(store)
    raw = path.read_bytes()
    # Neither chunk alone holds the key: a line scan would miss it.
    assert KEY.encode() not in raw.split(b'"response"')[0]
    leaks = scan_file(Redactor(), path)
    # Reported once per stream, at the chunk where the key starts, plus the rebuilt response.
    assert sorted((x.where, x.kind) for x in leaks) == [
        ("chunks[0].data.choices[0].delta.content", "api_key"),
        ("response.choices[0].message.content", "api_key"),
    ]


def test_clean_and_binary_files_have_no_findings(tmp_path: Path) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text("max_tokens = 4096\nprompt_tokens = 12\nversion = '1.2.3'\n")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\0\1\2" + KEY.encode())
    redactor = Redactor()
    assert scan_file(redactor, clean) == []
    assert scan_file(redactor, binary) == []


def test_json_that_only_looks_like_a_trace_is_scanned_as_text() -> None:
    data = b'{"schema_version": "not a trace", "contact": "' + EMAIL.encode() + b'"}'
    assert [(x.where, x.kind) for x in scan_bytes(Redactor(), data, "x.json")] == [
        ("line 1", "email")
    ]


def test_secrets_only_skips_pii(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_text(f"{EMAIL}\n{KEY}\n", encoding="utf-8")
    assert [x.kind for x in scan_file(Redactor(only_secrets=True), path)] == ["api_key"]


def test_iter_files_walks_sorted_and_skips_vcs_and_venvs(tmp_path: Path) -> None:
    for name in ("b.txt", "a/x.txt", ".git/config", "venv/lib.py", "a/node_modules/m.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])]
    assert found == ["b.txt", "a/x.txt"]  # a directory's files, then its subdirectories'
    with pytest.raises(FileNotFoundError, match="missing"):
        list(iter_files([tmp_path / "missing"]))
