"""Log records of ``traceforge start``: one redacted line each, tracebacks only when debugging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from traceforge_cli.logs import LIBRARY_LOGGER_NAMES, LOGGER_NAMES, configure_logging
from traceforge_shared.config import RedactionConfig

KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate)
        for n in (*LOGGER_NAMES, *LIBRARY_LOGGER_NAMES)
    }
    yield
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers = handlers
        logging.getLogger(name).propagate = propagate


def _log_failure() -> None:
    try:
        raise ConnectionError(f"upstream https://bob:hunter2secretpass@gw.internal refused {KEY}")
    except ConnectionError:
        logging.getLogger("traceforge.proxy").exception("could not build trace %s", "abc123")


def test_a_failure_is_one_redacted_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEFORGE_DEBUG", raising=False)
    out = io.StringIO()
    configure_logging(RedactionConfig(), stream=out)
    _log_failure()
    text = out.getvalue()
    assert text.count("\n") == 1, text
    assert text.startswith("traceforge: error: could not build trace abc123 (ConnectionError: ")
    assert "Traceback" not in text
    assert KEY not in text and "hunter2secretpass" not in text
    assert "[API_KEY_REDACTED]" in text


def test_debug_mode_adds_the_traceback_still_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEFORGE_DEBUG", "1")
    out = io.StringIO()
    configure_logging(RedactionConfig(), stream=out)
    _log_failure()
    text = out.getvalue()
    assert "Traceback (most recent call last)" in text
    assert KEY not in text


def test_configuring_twice_prints_each_record_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEFORGE_DEBUG", raising=False)
    first, second = io.StringIO(), io.StringIO()
    configure_logging(RedactionConfig(), stream=first)
    configure_logging(RedactionConfig(), stream=second)
    logging.getLogger("traceforge.proxy").warning("store degraded")
    assert first.getvalue() == ""
    assert second.getvalue() == "traceforge: warning: store degraded\n"


def test_a_client_hanging_up_is_one_warning_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # What aiohttp's server logs when a handler's write meets a closed connection.
    monkeypatch.delenv("TRACEFORGE_DEBUG", raising=False)
    out = io.StringIO()
    configure_logging(RedactionConfig(), stream=out)
    try:
        raise ConnectionResetError("Cannot write to closing transport")
    except ConnectionResetError:
        logging.getLogger("aiohttp.server").exception("Error handling request from 127.0.0.1")
    assert out.getvalue() == (
        "traceforge: warning: a client hung up before its answer was sent "
        "(ConnectionResetError: Cannot write to closing transport)\n"
    )
