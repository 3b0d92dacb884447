"""Errors raised by the trace store."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every trace store error."""


class InvalidTraceIdError(StoreError, ValueError):
    """The text given as a trace id cannot be one (ids are lower-case hex)."""


class TraceNotFoundError(StoreError, LookupError):
    """No trace has this id or id prefix."""


class AmbiguousTraceIdError(StoreError, LookupError):
    """More than one trace starts with this prefix.

    Attributes:
        matches: some of the matching ids (at most 10).
    """

    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.matches = matches
        super().__init__(
            f"trace id prefix {prefix!r} is ambiguous: it matches {', '.join(matches)}"
            + (" and more" if len(matches) >= 10 else "")
        )


class TraceSchemaError(StoreError):
    """A trace file has a schema_version this code cannot read, or is not a trace at all."""


class RunNotFoundError(StoreError, LookupError):
    """No run (W3C trace id) has this id or id prefix, or the text cannot be a run id."""


class AmbiguousRunIdError(RunNotFoundError):
    """More than one run starts with this prefix.

    Attributes:
        matches: some of the matching run ids (at most 10).
    """

    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.matches = matches
        super().__init__(
            f"run id prefix {prefix!r} is ambiguous: it matches {', '.join(matches)}"
            + (" and more" if len(matches) >= 10 else "")
        )


class SessionNotFoundError(StoreError, LookupError):
    """No run belongs to this session id."""
