"""The status label of a trace and its level, one rule for every UI.

A success reads ``success``; any other status carries the HTTP code when there is one
(``error 429``, ``upstream_error 502``, ``client_disconnected``). The level is what each UI
maps to its own colours: ``ok`` (success), ``warn`` (the client hung up, or a status this
version does not know) and ``error`` (the upstream answered an error or failed, or a replayed
cassette had no recording for the request: ``replay_miss``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a UI should style a value: fine, worth a look, or failed.
Level = Literal["ok", "warn", "error"]

#: The level of each known status.
STATUS_LEVELS: dict[str, Level] = {
    "success": "ok",
    "error": "error",
    "upstream_error": "error",
    "client_disconnected": "warn",
    "incomplete": "warn",
    "replay_miss": "error",
}


@dataclass(frozen=True)
class StatusView:
    """A status as shown: ``label`` (``error 429``) and its :data:`Level`."""

    label: str
    level: Level


def status_label(status: str, status_code: int = 0) -> str:
    """``status``, followed by ``status_code`` when it is not a success and the code is not 0
    (no response was started)."""
    if status == "success" or not status_code:
        return status
    return f"{status} {status_code}"


def status_view(status: str, status_code: int = 0) -> StatusView:
    """The label (:func:`status_label`) and level (:data:`STATUS_LEVELS`, unknown: ``warn``)
    of a trace's or a summary's ``status`` and ``status_code``."""
    return StatusView(status_label(status, status_code), STATUS_LEVELS.get(status, "warn"))
