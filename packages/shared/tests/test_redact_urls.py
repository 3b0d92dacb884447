"""Showing upstream URLs without their credentials."""

from __future__ import annotations

import pytest

from traceforge_shared.redact.urls import safe_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://127.0.0.1:9000/v1", "http://127.0.0.1:9000/v1"),
        (
            "https://bob:hunter2-very-secret@llm.internal:8443/v1",
            "https://bob:[REDACTED]@llm.internal:8443/v1",
        ),
        ("https://bob@llm.internal/v1", "https://bob@llm.internal/v1"),
        (
            "https://x.openai.azure.com/openai?api-version=2024-10-21&api-key=abc123def456",
            "https://x.openai.azure.com/openai?api-version=2024-10-21&api-key=[REDACTED]",
        ),
        ("postgres://u:p4ss@db/x?sslmode=require", "postgres://u:[REDACTED]@db/x?sslmode=require"),
        ("not a url", "not a url"),
    ],
)
def test_credentials_are_replaced_and_the_rest_kept(url: str, shown: str) -> None:
    assert safe_url(url) == shown
    assert "hunter2" not in safe_url(url)
