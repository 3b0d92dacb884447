"""Answers from a cassette: the recordings indexed by request key, and the socket-free
response that replays one (:class:`ReplayResponse`, an
:class:`~traceforge_proxy.transport.UpstreamResponse`).

A replayed answer has the recorded status, the recorded (allowlisted) headers plus
``X-TraceForge-Replayed-From``, and the recorded body: a stream read for read, one read per
recorded read, each at its recorded offset from the request (``--timing recorded``), scaled
(``scale:X``) or at once (``fast``: no sleeping at all).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from traceforge_proxy.modes import REPLAYED_FROM_HEADER, ReplayTiming
from traceforge_shared.cassettes import (
    Cassette,
    Interaction,
    RecordedResponse,
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

    Args:
        cassette: the cassette (a missing directory is an empty cassette).
        ignore_fields: body fields left out of keys (besides the volatile ones).

    Raises:
        traceforge_shared.cassettes.CassetteError: a file cannot be read.
    """

    def __init__(self, cassette: Cassette, ignore_fields: Iterable[str] = ()) -> None:
        self.name = cassette.name
        self.ignore_fields = tuple(ignore_fields)
        self._by_key: dict[str, deque[Recording]] = {}
        self._counts: dict[str, int] = {}
        self.recordings: list[Recording] = []
        for path, interaction in cassette.interactions():
            canonical = canonical_request(request_view(interaction.request), self.ignore_fields)
            recording = Recording(f"{cassette.name}/{path.name}", interaction, canonical)
            key = key_of(canonical)
            self._by_key.setdefault(key, deque()).append(recording)
            self._counts[key] = self._counts.get(key, 0) + 1
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
        found = nearest(canonical, [(r.ref, r.canonical) for r in self.recordings])
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
    :class:`~traceforge_proxy.transport.UpstreamResponse`).

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
        self._headers = CIMultiDictProxy(headers)
        self.closed = False

    @property
    def status(self) -> int:
        """The recorded HTTP status."""
        return self.recorded.status

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The recorded headers plus ``X-TraceForge-Replayed-From``."""
        return self._headers

    @property
    def content(self) -> ReplayResponse:
        """The body (this object: :meth:`iter_any`)."""
        return self

    async def iter_any(self) -> AsyncIterator[bytes]:
        """Each recorded read, at its (scaled) recorded offset from :attr:`sent_at`."""
        for read in self.recorded.body_reads():
            if self.closed:
                return
            await pause_until(self.sent_at, self.timing, read.offset_ms)
            yield read.data

    def release(self) -> None:
        """Nothing to free."""

    def close(self) -> None:
        """Stop replaying."""
        self.closed = True


async def pause_until(sent_at: float, timing: ReplayTiming, offset_ms: float) -> None:
    """Sleep until ``offset_ms`` (scaled by ``timing``) after ``sent_at`` (a
    ``loop.time()``); never sleeps with ``fast`` timing or when that time has passed."""
    if timing.kind == "fast":
        return
    delay = sent_at + timing.seconds(offset_ms) - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
