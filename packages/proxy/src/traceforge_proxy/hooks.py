"""Named hook points of the proxy, mitmproxy-addon style.

An addon is any object with some of these methods; the proxy calls each at its moment:

- ``before_save(trace) -> Trace``: called in the trace writer thread, after the call ended and
  before the trace touches disk. Redaction of secrets and PII plugs in here: whatever it
  returns is what is stored. The client and the upstream are never affected.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from traceforge_shared.trace import Trace


@runtime_checkable
class BeforeSave(Protocol):
    """An addon that may rewrite a trace before it is saved."""

    def before_save(self, trace: Trace) -> Trace:
        """Return the trace to store (the same object, changed, or a new one)."""
        ...
