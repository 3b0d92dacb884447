"""Log output of long-running commands (``traceforge start``): one redacted line per record.

The proxy, the writer and the store log what goes wrong (an addon that raised, a trace that
could not be built, a store fault) with ``logging``. Without a handler Python would print
those records, tracebacks included, as they are. :func:`configure_logging` installs one
handler on the ``traceforge`` loggers that prints ``traceforge: <level>: <message>`` on
stderr, with every secret the redaction engine finds replaced by its marker (an upstream URL
with a password in an exception message, a key in an error body), and the traceback only
when ``TRACEFORGE_DEBUG`` is set. aiohttp's and asyncio's records go through it too, and a
client that hung up (``ConnectionResetError``, ``BrokenPipeError``) is one warning line,
``traceforge: warning: a client hung up before its answer was sent (...)``.

:class:`AccessLog` is the console's access log: one line per call (:func:`access_line`, or
:func:`access_json` for ``--json``) as each trace is saved.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import IO, Any

from traceforge_cli.errors import debug_enabled
from traceforge_shared.config import RedactionConfig
from traceforge_shared.redact import Redactor
from traceforge_shared.trace import Trace
from traceforge_shared.views.units import cost_text, ms_text

#: Loggers of TraceForge's packages (``traceforge.proxy``, ``traceforge_shared.store``...).
LOGGER_NAMES = ("traceforge", "traceforge_shared", "traceforge_proxy", "traceforge_web_api")
#: Loggers of the libraries serving ``traceforge start`` ("Error handling request" and
#: "Task exception was never retrieved" tracebacks come from these).
LIBRARY_LOGGER_NAMES = ("aiohttp", "asyncio")

#: Exceptions meaning the other end of a connection hung up.
_HANG_UPS = (ConnectionResetError, BrokenPipeError)


class RedactingFormatter(logging.Formatter):
    """Formats a record as one line, redacted; the traceback only in debug mode."""

    def __init__(self, redactor: Redactor, *, debug: bool) -> None:
        super().__init__("traceforge: %(levelname)s: %(message)s")
        self.redactor = redactor
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        """The record's line (plus its traceback when debugging), secrets replaced."""
        message = record.getMessage()
        level = record.levelname.lower()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if isinstance(exc, _HANG_UPS):  # nothing is wrong with TraceForge or the call
                level, message = "warning", "a client hung up before its answer was sent"
            message = f"{message} ({type(exc).__name__}: {exc})"
        line = f"traceforge: {level}: {message}"
        if self.debug and record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        redacted, _ = self.redactor.redact_text(line)
        return redacted


def configure_logging(
    redaction: RedactionConfig, *, level: int = logging.WARNING, stream: IO[str] | None = None
) -> logging.Handler:
    """Send TraceForge's log records at ``level`` and above to ``stream`` (stderr) as
    redacted one-line messages (see the module docstring); returns the handler installed.
    Records are not passed on to the root logger, so they are printed once."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(RedactingFormatter(Redactor(redaction), debug=debug_enabled()))
    for name in (*LOGGER_NAMES, *LIBRARY_LOGGER_NAMES):
        logger = logging.getLogger(name)
        logger.handlers = [
            h for h in logger.handlers if not isinstance(h.formatter, RedactingFormatter)
        ]
        logger.addHandler(handler)
        logger.setLevel(min(logger.level or level, level))
        logger.propagate = False
    return handler


def _ttft_ms(trace: Trace) -> float | None:
    """Time to first token: the first chunk carrying content, else the first chunk (ms)."""
    meta = trace.metadata
    return (
        meta.first_content_latency_ms
        if meta.first_content_latency_ms is not None
        else meta.first_chunk_latency_ms
    )


def access_line(trace: Trace) -> str:
    """The console's line for one call (plain text, from the saved, redacted trace):
    time (UTC), provider, model, HTTP status (and the error type of a failed call),
    latency, time to first token, tokens in/out, cost in USD or ``cost unknown``, trace id::

        19:06:41 openai gpt-4o-mini 200 412 ms ttft 35 ms tokens 12/48 $0.000031 3f9a...
    """
    meta = trace.metadata
    status = str(meta.status_code or "-")
    if meta.status != "success":
        status += f" {meta.error.type if meta.error is not None else meta.status}"
    usage = meta.usage
    tokens = "-" if usage is None else f"{usage.prompt_tokens}/{usage.completion_tokens}"
    cost = "cost unknown" if meta.cost_usd is None else cost_text(meta.cost_usd, usage)
    return (
        f"{trace.timestamp[11:19]} {trace.provider} {trace.model or '-'} {status} "
        f"{ms_text(meta.latency_ms)} ttft {ms_text(_ttft_ms(trace))} tokens {tokens} "
        f"{cost} {trace.id}"
    )


def access_json(trace: Trace) -> str:
    """:func:`access_line` as one JSON object (``traceforge start --json``): ``timestamp``
    (ISO 8601 UTC), ``provider``, ``model``, ``status``, ``status_code``, ``error_type``,
    ``latency_ms``, ``ttft_ms``, ``input_tokens``, ``output_tokens``, ``cost_usd`` (``null``:
    unknown), ``trace_id``."""
    meta = trace.metadata
    usage = meta.usage
    record: dict[str, Any] = {
        "timestamp": trace.timestamp,
        "provider": trace.provider,
        "model": trace.model,
        "status": meta.status,
        "status_code": meta.status_code,
        "error_type": meta.error.type if meta.error is not None else None,
        "latency_ms": meta.latency_ms,
        "ttft_ms": _ttft_ms(trace),
        "input_tokens": usage.prompt_tokens if usage is not None else None,
        "output_tokens": usage.completion_tokens if usage is not None else None,
        "cost_usd": meta.cost_usd,
        "trace_id": trace.id,
    }
    return json.dumps(record, separators=(",", ":"))


class AccessLog:
    """An addon (``saved`` hook, the trace writer's thread) printing one access line per
    saved trace through ``emit``.

    Args:
        emit: receives each line (called in the writer's thread: hand it to the event loop
            or a thread-safe console).
        as_json: lines are :func:`access_json` objects instead of :func:`access_line` text.
    """

    #: Reads only the trace's head (metadata): a writer process sends no bodies back.
    saved_head_only = True

    def __init__(self, emit: Callable[[str], None], *, as_json: bool = False) -> None:
        self.emit = emit
        self.format = access_json if as_json else access_line

    def saved(self, trace: Trace) -> None:
        """Print the trace's access line."""
        self.emit(self.format(trace))
