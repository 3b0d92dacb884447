"""The detail screen's Headers tab: a trace's request headers (as sent upstream) and the
upstream's response headers (``trace.metadata.request_headers`` / ``response_headers``).

The proxy redacts credentials before a trace is saved; a trace file edited by hand or
written by an older version may still hold one, so credential headers are masked again here
(:func:`shown_value`).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from traceforge_shared.redact import REDACTED, is_marker
from traceforge_shared.redact.detectors import credential_header, normalize_key
from traceforge_shared.trace import Trace

#: Header names always masked, whatever their value (as normalized by ``normalize_key``).
CREDENTIAL_NAMES = frozenset(
    normalize_key(name)
    for name in (
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    )
)


def shown_value(name: str, value: str) -> str:
    """``value`` as shown: ``[REDACTED]`` for a credential header (``authorization``,
    ``x-api-key``, any name with key, token, secret, auth, cookie... see
    :func:`~traceforge_shared.redact.detectors.credential_header`) unless it is a redaction
    marker already; other values as they are."""
    if is_marker(value) or not value:
        return value
    if normalize_key(name) in CREDENTIAL_NAMES or credential_header(name):
        return REDACTED
    return value


def headers_text(headers: dict[str, str]) -> Text:
    """``headers`` as aligned ``name  value`` lines, sorted by name (credentials masked;
    ``(none recorded)`` when empty)."""
    if not headers:
        return Text("(none recorded)", style="dim")
    width = max(len(name) for name in headers)
    text = Text()
    for i, name in enumerate(sorted(headers, key=str.lower)):
        if i:
            text.append("\n")
        value = shown_value(name, headers[name])
        text.append(name.ljust(width + 2), style="bold")
        text.append(value, style="yellow" if is_marker(value) else "")
    return text


class HeadersView(VerticalScroll):
    """The request and response headers of ``trace``, each under a title."""

    DEFAULT_CSS = """
    HeadersView .section-title {
        text-style: bold;
        margin: 1 0 0 0;
    }
    """

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace

    def compose(self) -> ComposeResult:
        """Request headers, then response headers."""
        meta = self.trace.metadata
        yield Static("Request headers (as sent upstream)", classes="section-title")
        yield Static(headers_text(meta.request_headers), id="headers-request")
        status = f" (HTTP {meta.status_code})" if meta.status_code else ""
        yield Static(f"Response headers{status}", classes="section-title")
        yield Static(headers_text(meta.response_headers), id="headers-response")
