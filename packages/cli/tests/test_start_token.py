"""``traceforge start`` honours ``$TRACEFORGE_API_TOKEN`` on loopback too: other users and
programs of the machine can reach 127.0.0.1, and a user who set a token expects it asked."""

from __future__ import annotations

import click
import pytest

from traceforge_cli.commands.start import API_TOKEN_ENV, _api_token


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_the_token_is_used_on_loopback_when_set(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv(API_TOKEN_ENV, "s3cret")
    assert _api_token(host) == "s3cret"


def test_no_token_on_loopback_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_TOKEN_ENV, raising=False)
    assert _api_token("127.0.0.1") is None


def test_beyond_loopback_the_token_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_TOKEN_ENV, raising=False)
    with pytest.raises(click.ClickException, match=API_TOKEN_ENV):
        _api_token("0.0.0.0")
    monkeypatch.setenv(API_TOKEN_ENV, "s3cret")
    assert _api_token("0.0.0.0") == "s3cret"
