"""`traceforge.errors`: status → class mapping, ``Retry-After`` parsing, messages."""

from __future__ import annotations

import email.utils

import pytest

from traceforge import errors
from traceforge.errors import (
    AuthenticationFailed,
    BadRequest,
    Overloaded,
    ProviderError,
    RateLimited,
    Timeout,
    from_status,
    parse_retry_after,
)


def test_exports_are_sorted() -> None:
    assert errors.__all__ == sorted(errors.__all__)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, AuthenticationFailed),
        (403, AuthenticationFailed),
        (404, BadRequest),
        (408, Timeout),
        (409, ProviderError),
        (422, BadRequest),
        (429, RateLimited),
        (500, ProviderError),
        (502, ProviderError),
        (503, Overloaded),
        (504, Timeout),
        (529, Overloaded),
        (None, ProviderError),
    ],
)
def test_status_mapping(status: int | None, cls: type[ProviderError]) -> None:
    error = from_status("openai", status, {"error": {"message": "nope"}}, {})
    assert type(error) is cls
    assert error.status == status
    assert error.provider == "openai"
    assert error.message == "nope"


def test_anthropic_overloaded_error_whatever_the_status() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert isinstance(from_status("anthropic", 529, body), Overloaded)
    # An error event inside a 200 stream, as bytes.
    raw = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    error = from_status("anthropic", None, raw)
    assert isinstance(error, Overloaded)
    assert error.body is raw  # kept as given
    assert error.message == "Overloaded"


def test_body_and_status_are_kept_and_shown() -> None:
    body = '{"error": {"message": "Invalid API key", "type": "invalid_request_error"}}'
    error = from_status("xai", 401, body, None)
    assert error.body == body
    assert str(error) == "Invalid API key (xai HTTP 401)"
    assert "AuthenticationFailed" in repr(error)


def test_message_from_plain_text_and_empty_bodies() -> None:
    assert from_status("ollama", 500, "model crashed").message == "model crashed"
    assert from_status("ollama", 500, None).message == "HTTP 500"
    assert from_status("cohere", 422, {"message": "bad field"}).message == "bad field"
    assert from_status("ollama", 404, {"error": "model 'x' not found"}).message == (
        "model 'x' not found"
    )


def test_retry_after_seconds_and_case() -> None:
    error = from_status("openai", 429, None, {"Retry-After": "1"})
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 1.0
    assert parse_retry_after({"retry-after": " 2.5 "}) == 2.5
    assert parse_retry_after({"RETRY-AFTER": "-3"}) == 0.0
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_retry_after_ms_wins() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "9"}) == 9.0


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=now) == 0.0


def test_overloaded_503_keeps_retry_after() -> None:
    error = from_status("gemini", 503, {"error": {"message": "busy"}}, {"retry-after": "4"})
    assert isinstance(error, Overloaded)
    assert error.retry_after_s == 4.0
