"""Answers from a cassette: the recordings indexed by request key, and the socket-free
response that replays one (:class:`ReplayResponse`, an
:class:`~traceforge_proxy.transport.UpstreamResponse`).

A replayed answer has the recorded status, the recorded (allowlisted) headers plus
``X-TraceForge-Replayed-From`` (and ``X-TraceForge-Replay-Redacted`` when redaction changed
the recorded body), and the recorded body: a stream read for read, one read per recorded
read, each at its recorded offset from the request (``--timing recorded``), scaled
(``scale:X``) or at once (``fast``: no sleeping at all); an answer that broke off when it was
recorded breaks off the same way after its last read.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from traceforge_proxy.modes import REPLAY_REDACTED_HEADER, REPLAYED_FROM_HEADER, ReplayTiming
from traceforge_shared.cassettes import (
    Cassette,
    Interaction,
    RecordedResponse,
    StreamBreak,
    canonical_request,
    key_of,
    nearest,
    request_view,
)


@dataclass
class Recording:
    """One interaction of a loaded cassette.

    Attributes:
        ref: ``<cassette>/<file name>``, as shown in traces and miss messages.
        interaction: the recording.
        canonical: its canonical request (with the session's ignore list).
    """

    ref: str
    interaction: Interaction
    canonical: dict[str, Any]


@dataclass(frozen=True)
class Miss:
    """Why no recording answers a request.

    Attributes:
        message: the full explanation (nearest recording and the differences, or that every
            recording of this request was replayed already).
        short: one line for the ``X-TraceForge-Replay-Miss`` header.
    """

    message: str
    short: str


class CassetteIndex:
    """The recordings of a cassette by request key, loaded once; each key's recordings are
    handed out in recording order (a cursor per key).

    Re-recording replaces: a ``record`` run's recordings of a request supersede those that
    earlier runs made of it (``--mode record`` over an existing cassette appends files; the
    newest ``record`` run's recordings of a request are the ones replayed, in the order that
    run made them). Misses recorded while replaying (``auto``, ``--on-miss record``) are
    added after the recordings of the request already there. Files without a
    ``recording_run`` (older cassettes) count as one run.

    Args:
        cassette: the cassette (a missing directory is an empty cassette).
        ignore_fields: body fields left out of keys (besides the volatile ones).

    Attributes:
        recordings: every loaded recording, in ``seq`` order (superseded ones included: a
            replay never uses them, so they are reported unused and ``cassette prune``
            removes them).
        superseded: the recordings a later ``record`` run replaced.

    Raises:
        traceforge_shared.cassettes.CassetteError: a file cannot be read.
    """

    def __init__(self, cassette: Cassette, ignore_fields: Iterable[str] = ()) -> None:
        self.name = cassette.name
        self.ignore_fields = tuple(ignore_fields)
        self._by_key: dict[str, deque[Recording]] = {}
        self._counts: dict[str, int] = {}
        self._runs: dict[str, str] = {}
        self.recordings: list[Recording] = []
        self.superseded: list[Recording] = []
        for path, interaction in cassette.interactions():
            canonical = canonical_request(request_view(interaction.request), self.ignore_fields)
            recording = Recording(f"{cassette.name}/{path.name}", interaction, canonical)
            key = key_of(canonical)
            queue = self._by_key.setdefault(key, deque())
            run = interaction.recording_run
            if interaction.recording_mode == "record" and self._runs.get(key, run) != run:
                self.superseded.extend(queue)  # re-recorded by a later run: replaced
                queue.clear()
            if interaction.recording_mode == "record":
                self._runs[key] = run
            queue.append(recording)
            self._counts[key] = len(queue)
            self.recordings.append(recording)

    def __len__(self) -> int:
        return len(self.recordings)

    def take(self, key: str) -> Recording | None:
        """The next recording of ``key`` not replayed yet, or ``None``."""
        queue = self._by_key.get(key)
        return queue.popleft() if queue else None

    def miss(self, key: str, canonical: dict[str, Any]) -> Miss:
        """Explain why ``take(key)`` found nothing."""
        used = self._counts.get(key, 0)
        if used:
            message = (
                f"no recording left in cassette {self.name!r} for this request: its {used} "
                f"recording(s) were all replayed already (identical requests replay in "
                "recorded order, once each)"
            )
            return Miss(message, f"all {used} recording(s) of this request already replayed")
        superseded = {id(r) for r in self.superseded}
        current = [(r.ref, r.canonical) for r in self.recordings if id(r) not in superseded]
        found = nearest(canonical, current)
        if found is None:
            message = f"no recording in cassette {self.name!r} matches this request (it is empty)"
            return Miss(message, "cassette is empty")
        ref, diffs = found
        message = (
            f"no recording in cassette {self.name!r} matches this request; the nearest is "
            f"{ref}, which differs in: " + "; ".join(diffs)
        )
        short = f"nearest {ref}: {diffs[0]}" if diffs else f"nearest {ref}"
        return Miss(message, short)


class ReplayResponse:
    """A recorded answer, served without a socket (an
    :class:`~traceforge_proxy.transport.UpstreamResponse`): the recorded reads, then, for an
    answer that broke off when recorded, the same break (the exception the live read raised).

    Args:
        recorded: the recorded answer.
        ref: ``<cassette>/<file>``, sent as ``X-TraceForge-Replayed-From``.
        timing: pacing of the reads.
        sent_at: ``loop.time()`` when the request was "sent" (read offsets count from it).
    """

    def __init__(
        self, recorded: RecordedResponse, ref: str, timing: ReplayTiming, sent_at: float
    ) -> None:
        self.recorded = recorded
        self.timing = timing
        self.sent_at = sent_at
        headers: CIMultiDict[str] = CIMultiDict(recorded.headers)
        headers[REPLAYED_FROM_HEADER] = ref
        if recorded.redacted:
            headers[REPLAY_REDACTED_HEADER] = ", ".join(recorded.redacted)
        self._headers = CIMultiDictProxy(headers)
        self.closed = False

    @property
    def status(self) -> int:
        """The recorded HTTP status."""
        return self.recorded.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The recorded headers plus ``X-TraceForge-Replayed-From`` (and
        ``X-TraceForge-Replay-Redacted`` when redaction changed the recorded body)."""
        return self._headers

    @property
    def content(self) -> ReplayResponse:
        """The body (this object: :meth:`iter_any`)."""
        return self

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Each recorded read, at its (scaled) recorded offset from :attr:`sent_at` (every
        read scheduled from that one start, so pauses never add up into drift); then the
        recorded break, if any, at its offset.

        Raises:
            TimeoutError: the recorded answer's read timed out (``upstream_timeout``).
            aiohttp.ClientPayloadError: it broke off otherwise (``upstream_failed``, or
                ``client_gone``: the recording ends where the app hung up).
        """
        for read in self.recorded.body_reads():
            if self.closed:
                return
            await pause_until(self.sent_at, self.timing, read.offset_ms)
            yield read.data
        broken = self.recorded.broken
        if broken is None or self.closed:
            return
        await pause_until(self.sent_at, self.timing, broken.offset_ms)
        raise replayed_break(broken)

    def release(self) -> None:
        """Nothing to free."""

    def close(self) -> None:
        """Stop replaying."""
        self.closed = True


def replayed_break(broken: StreamBreak) -> Exception:
    """The exception a replay raises for a recorded break: what the live read raised
    (``TimeoutError`` or ``aiohttp.ClientPayloadError``), with the recorded message."""
    if broken.cause == "upstream_timeout":
        return TimeoutError(broken.message)
    if broken.cause == "client_gone":
        return aiohttp.ClientPayloadError(
            "TraceForge replay: the recording ends here (the app hung up when it was "
            "recorded, so the rest of the answer was never read)"
        )
    return aiohttp.ClientPayloadError(broken.message)


async def pause_until(sent_at: float, timing: ReplayTiming, offset_ms: float) -> None:
    """Sleep until ``offset_ms`` (scaled by ``timing``) after ``sent_at`` (a
    ``loop.time()``); never sleeps with ``fast`` timing or when that time has passed."""
    if timing.kind == "fast":
        return
    delay = sent_at + timing.seconds(offset_ms) - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
