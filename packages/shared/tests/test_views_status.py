"""Status labels and levels (traceforge_shared.views.status)."""

from __future__ import annotations

import pytest

from traceforge_shared.trace import TRACE_STATUSES
from traceforge_shared.views.status import STATUS_LEVELS, StatusView, status_label, status_view


@pytest.mark.parametrize(
    ("status", "code", "view"),
    [
        ("success", 200, StatusView("success", "ok")),
        ("success", 0, StatusView("success", "ok")),
        ("error", 429, StatusView("error 429", "error")),
        ("error", 0, StatusView("error", "error")),
        ("upstream_error", 502, StatusView("upstream_error 502", "error")),
        ("client_disconnected", 0, StatusView("client_disconnected", "warn")),
        ("client_disconnected", 200, StatusView("client_disconnected 200", "warn")),
        ("brand_new", 0, StatusView("brand_new", "warn")),
    ],
)
def test_status_view(status: str, code: int, view: StatusView) -> None:
    assert status_view(status, code) == view
    assert status_label(status, code) == view.label


def test_every_status_has_a_level() -> None:
    assert set(STATUS_LEVELS) == set(TRACE_STATUSES)
