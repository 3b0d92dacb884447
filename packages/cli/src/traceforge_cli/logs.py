"""Log output of long-running commands (``traceforge start``): one redacted line per record.

The proxy, the writer and the store log what goes wrong (an addon that raised, a trace that
could not be built, a store fault) with ``logging``. Without a handler Python would print
those records, tracebacks included, as they are. :func:`configure_logging` installs one
handler on the ``traceforge`` loggers that prints ``traceforge: <level>: <message>`` on
stderr, with every secret the redaction engine finds replaced by its marker (an upstream URL
with a password in an exception message, a key in an error body), and the traceback only
when ``TRACEFORGE_DEBUG`` is set.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from traceforge_cli.errors import debug_enabled
from traceforge_shared.config import RedactionConfig
from traceforge_shared.redact import Redactor

#: Loggers of TraceForge's packages (``traceforge.proxy``, ``traceforge_shared.store``...).
LOGGER_NAMES = ("traceforge", "traceforge_shared", "traceforge_proxy", "traceforge_web_api")


class RedactingFormatter(logging.Formatter):
    """Formats a record as one line, redacted; the traceback only in debug mode."""

    def __init__(self, redactor: Redactor, *, debug: bool) -> None:
        super().__init__("traceforge: %(levelname)s: %(message)s")
        self.redactor = redactor
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        """The record's line (plus its traceback when debugging), secrets replaced."""
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message} ({type(exc).__name__}: {exc})"
        line = f"traceforge: {record.levelname.lower()}: {message}"
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
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        logger.handlers = [
            h for h in logger.handlers if not isinstance(h.formatter, RedactingFormatter)
        ]
        logger.addHandler(handler)
        logger.setLevel(min(logger.level or level, level))
        logger.propagate = False
    return handler
