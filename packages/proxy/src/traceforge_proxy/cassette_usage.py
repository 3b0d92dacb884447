"""What a replay run used of its cassette: the ``before_save`` addon that notes each replayed
recording and each replay miss, and the end-of-run report (unused recordings, the misses'
explanations) written to the cassette as ``.last-replay.json``
(:mod:`traceforge_shared.cassettes.usage`) for ``traceforge cassette prune``.

Used by ``traceforge start --mode replay`` (the shutdown line, ``--strict``) and the pytest
plugin (:mod:`traceforge_proxy.pytest_plugin`: a miss fails the test).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from traceforge_proxy.cassette_session import CassetteSession
from traceforge_shared.cassettes.usage import ReplayUsage, write_usage
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.trace import Trace

#: Trace status (and error type) of a replay miss (see :mod:`traceforge_proxy.replay_miss`).
REPLAY_MISS_STATUS = "replay_miss"


@dataclass(frozen=True)
class MissRecord:
    """A request no recording answered.

    Attributes:
        trace_id: the miss's trace.
        endpoint: the proxy path the app called.
        model: the model asked for.
        message: the explanation (nearest recording and the fields that differ).
    """

    trace_id: str
    endpoint: str
    model: str
    message: str


@dataclass
class UsageReport:
    """The end of a replay run.

    Attributes:
        cassette: the cassette's name.
        used: ``<cassette>/<file>`` of each replayed recording, in replay order.
        unused: ``<cassette>/<file>`` of each loaded recording never replayed, in order.
        misses: the requests no recording answered.
    """

    cassette: str
    used: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    misses: list[MissRecord] = field(default_factory=list)


class ReplayTracker:
    """``before_save`` addon (give it to ``ProxyService(addons=...)``; it runs after the
    cassette session marked the trace): notes replayed recordings and misses. Thread-safe.

    Attributes:
        used: ``<cassette>/<file>`` of each replayed recording, in save order.
        misses: the replay misses, in save order.
    """

    def __init__(self) -> None:
        self.used: list[str] = []
        self.misses: list[MissRecord] = []
        self._lock = threading.Lock()

    def before_save(self, trace: Trace) -> Trace:
        """Note ``trace`` if it was replayed or missed; the trace is returned unchanged."""
        ref = trace.meta.get("replayed_from")
        with self._lock:
            if ref:
                self.used.append(ref)
            if trace.metadata.status == REPLAY_MISS_STATUS:
                error = trace.metadata.error
                message = error.message if error is not None else "no recording matches"
                self.misses.append(MissRecord(trace.id, trace.endpoint, trace.model, message))
        return trace

    def take_misses(self) -> list[MissRecord]:
        """The misses noted so far, forgetting them."""
        with self._lock:
            misses, self.misses = self.misses, []
            return misses

    def report(self, session: CassetteSession) -> UsageReport:
        """The run's :class:`UsageReport` (call once every trace is saved: after
        ``ProxyService.stop`` or ``BackgroundProxy.drain``)."""
        with self._lock:
            used = list(self.used)
            misses = list(self.misses)
        loaded = [] if session.index is None else [r.ref for r in session.index.recordings]
        taken = set(used)
        return UsageReport(
            cassette=session.cassette.name,
            used=used,
            unused=[ref for ref in loaded if ref not in taken],
            misses=misses,
        )


def save_usage(session: CassetteSession, report: UsageReport) -> None:
    """Write ``report`` as the cassette's ``.last-replay.json`` (replay and auto modes only;
    file names without the cassette prefix).

    Raises:
        OSError: the file cannot be written.
    """
    if not session.options.replays:
        return

    def name(ref: str) -> str:
        return ref.rpartition("/")[2]

    write_usage(
        session.cassette,
        ReplayUsage(
            cassette=report.cassette,
            finished_at=utc_timestamp(),
            used=[name(r) for r in report.used],
            unused=[name(r) for r in report.unused],
            misses=len(report.misses),
        ),
    )
