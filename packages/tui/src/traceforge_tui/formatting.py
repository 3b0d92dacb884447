"""Plain formatting of trace values for the TUI's cells and labels."""

from __future__ import annotations

from datetime import datetime

import msgspec
from rich.text import Text

#: Colour of each trace status.
STATUS_STYLE: dict[str, str] = {
    "success": "green",
    "error": "red",
    "upstream_error": "red",
    "client_disconnected": "yellow",
}


def local_time(timestamp: str) -> str:
    """Render an ISO 8601 UTC timestamp as local ``YYYY-MM-DD HH:MM:SS`` (unparsable: as is)."""
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def milliseconds(value: float | None) -> str:
    """Render a duration in ms as a whole number with thousands separators (``-`` if None)."""
    return "-" if value is None else f"{value:,.0f}"


def tokens(total: int) -> str:
    """Render a token count (``-`` when the provider reported none)."""
    return str(total) if total else "-"


def status(status: str, status_code: int) -> Text:
    """Render a status, with the HTTP code when it is not a success: ``error 429``."""
    label = status if status == "success" or not status_code else f"{status} {status_code}"
    return Text(label, style=STATUS_STYLE.get(status, ""))


def pretty_json(value: object) -> str:
    """Return ``value`` as indented JSON text."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()
