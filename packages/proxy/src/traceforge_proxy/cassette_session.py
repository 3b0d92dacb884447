"""A cassette in use by the proxy: the :class:`~traceforge_proxy.transport.UpstreamSender`
that records calls to it or replays them from it, and the ``before_save`` addon that marks
their traces.

Per call (after planning, so routing and conversion are as live):

- ``replay``/``auto``: the request's key (:func:`~traceforge_shared.cassettes.request_key`
  of the redacted request) picks the next unreplayed recording with that key; it is served
  by a :class:`~traceforge_proxy.replay_source.ReplayResponse` through the same relay,
  conversion and trace building as a live answer. No recording: per
  :attr:`CassetteOptions.miss_action <traceforge_proxy.modes.CassetteOptions.miss_action>`,
  a 400 in the provider's error shape (:mod:`traceforge_proxy.replay_miss`), a recorded live
  call, or a live call.
- ``record`` (and misses recorded): the call goes upstream with ``Accept-Encoding:
  identity``; once the handler is done with its answer (read whole, or broken off part way:
  the reads so far and the break are kept), the interaction is redacted and written to the
  cassette by a single writer thread (:meth:`CassetteSession.close` waits for it), tagged
  with this run's id and mode (a ``record`` run supersedes earlier runs' recordings of the
  same request: :class:`~traceforge_proxy.replay_source.CassetteIndex`).

Traces: ``meta.cassette`` (the name) and ``meta.replayed_from`` or ``meta.recorded_to``
(``<cassette>/<file>``); a replayed answer whose recorded body was redacted also
``meta.replay_redacted`` (the kinds replaced: its bytes are not the upstream's).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from traceforge_proxy.cassette_recorder import (
    RecordingResponse,
    recorded_request,
    recorded_response,
)
from traceforge_proxy.modes import CassetteOptions
from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer
from traceforge_proxy.replay_miss import miss_answer
from traceforge_proxy.replay_source import CassetteIndex, ReplayResponse, pause_until
from traceforge_proxy.transport import LiveSender, UpstreamResponse
from traceforge_shared.cassettes import (
    Cassette,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamBreak,
    canonical_request,
    interaction_filename,
    key_of,
    request_view,
)
from traceforge_shared.config import RedactionConfig
from traceforge_shared.ids import utc_timestamp
from traceforge_shared.redact import Redactor
from traceforge_shared.trace import Trace

if TYPE_CHECKING:
    from traceforge_proxy.exchange import Exchange

log = logging.getLogger("traceforge.proxy.cassette")


class CassetteSession:
    """Records to or replays from one cassette (see the module docstring).

    Args:
        options: mode, cassette name, timing, miss action, ignored fields.
        home: the TraceForge home the cassette lives in when ``options.home`` is ``None``.
        redaction: the redaction settings of traces; cassettes use the same detectors with
            plain (not deterministic) markers, so keys stay the same across runs.

    Attributes:
        options: as given.
        cassette: the :class:`~traceforge_shared.cassettes.Cassette`.
        index: the loaded recordings (after :meth:`load`, replay and auto modes).
        hits, misses, recorded: calls replayed, requests without a recording, interactions
            written.
        write_errors: interactions that could not be written (logged).
        run_id: this run's id (``<UTC time>-<random>``), kept as each recorded interaction's
            ``recording_run`` (with ``recording_mode``: the options' mode), so a later
            ``record`` run's recordings of a request supersede this run's.

    Raises:
        traceforge_shared.cassettes.CassetteError: the cassette name is not valid.
    """

    def __init__(
        self,
        options: CassetteOptions,
        home: str | os.PathLike[str] | None = None,
        redaction: RedactionConfig | None = None,
    ) -> None:
        self.options = options
        self.cassette = Cassette(options.name, options.home if options.home is not None else home)
        settings = redaction or RedactionConfig()
        self.redactor = Redactor(msgspec.structs.replace(settings, deterministic=False))
        self.index: CassetteIndex | None = None
        self.hits = 0
        self.misses = 0
        self.recorded = 0
        self.write_errors = 0
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.urandom(3).hex()}"
        self._live = LiveSender()
        self._marks: dict[str, dict[str, str]] = {}
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="traceforge-cassette")
        self._pending: set[Future[None]] = set()

    def load(self) -> None:
        """Load the recordings once (replay and auto modes; record mode loads nothing).

        Raises:
            traceforge_shared.cassettes.CassetteError: a file cannot be read.
        """
        if self.options.replays:
            self.index = CassetteIndex(self.cassette, self.options.ignore_fields)

    # -- the sender ------------------------------------------------------------------------

    async def send(
        self,
        session: aiohttp.ClientSession,
        client: ClientRequest,
        plan: ForwardingPlan,
        exchange: Exchange,
        headers: dict[str, str],
        client_timeout: aiohttp.ClientTimeout,
    ) -> UpstreamResponse | ProxyAnswer:
        """Replay, answer a miss, or send (and record); see the module docstring.

        Raises:
            aiohttp.ClientError, asyncio.TimeoutError: a live call failed (offline replay:
                :class:`~traceforge_proxy.transport.NetworkBlocked`).
        """
        request = recorded_request(client, plan, self.redactor)
        canonical = canonical_request(request_view(request), self.options.ignore_fields)
        key = key_of(canonical)
        if self.options.replays:
            if self.index is None:
                self.load()
            assert self.index is not None
            recording = self.index.take(key)
            if recording is not None:
                return await self._replay(recording.ref, recording.interaction, exchange)
            self.misses += 1
            action = self.options.miss_action
            self._marks[exchange.trace_id] = {"cassette": self.cassette.name}
            if action == "error":
                miss = self.index.miss(key, canonical)
                return miss_answer(client, miss.message, miss.short)
            if action == "passthrough":
                return await self._live.send(
                    session, client, plan, exchange, headers, client_timeout
                )
        return await self._record(session, request, key, plan, exchange, headers, client_timeout)

    async def _replay(
        self, ref: str, interaction: Interaction, exchange: Exchange
    ) -> ReplayResponse:
        # Offsets count from when the exchange was sent, as the recording's did.
        since_sent = (time.perf_counter_ns() - exchange.sent_ns) / 1e9
        sent_at = asyncio.get_running_loop().time() - max(since_sent, 0.0)
        await pause_until(sent_at, self.options.timing, interaction.response.headers_ms)
        self.hits += 1
        marks = {"cassette": self.cassette.name, "replayed_from": ref}
        if interaction.response.redacted:
            marks["replay_redacted"] = ", ".join(interaction.response.redacted)
        self._marks[exchange.trace_id] = marks
        return ReplayResponse(interaction.response, ref, self.options.timing, sent_at)

    async def _record(
        self,
        session: aiohttp.ClientSession,
        request: RecordedRequest,
        key: str,
        plan: ForwardingPlan,
        exchange: Exchange,
        headers: dict[str, str],
        client_timeout: aiohttp.ClientTimeout,
    ) -> UpstreamResponse:
        sent_ns = exchange.sent_ns  # offsets count from here, as the trace's chunks do
        response = await session.request(
            plan.method,
            plan.url,
            data=plan.body or None,
            headers={**headers, "Accept-Encoding": "identity"},
            timeout=client_timeout,
            allow_redirects=False,
        )
        headers_ms = (time.perf_counter_ns() - sent_ns) / 1e6
        encoding = response.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":
            exchange.warnings.append(
                f"not recorded to cassette {self.cassette.name!r}: the upstream sent a "
                f"{encoding}-encoded answer although asked for identity"
            )
            return response
        stream = plan.framing(response.status, response.headers.get("Content-Type", "")) is not None
        status, answer_headers = response.status, list(response.headers.items())

        def done(
            reads: list[tuple[bytes, float]], end_ms: float, broken: StreamBreak | None
        ) -> None:
            interaction = Interaction(
                seq=self.cassette.reserve_seq(),
                key=key,
                request=request,
                response=RecordedResponse(status=status),
                recorded_at=utc_timestamp(),
                trace_id=exchange.trace_id,
                recording_run=self.run_id,
                recording_mode=self.options.mode,
            )
            ref = f"{self.cassette.name}/{interaction_filename(interaction)}"
            self._marks[exchange.trace_id] = {"cassette": self.cassette.name, "recorded_to": ref}
            job = self._writer.submit(
                self._write, interaction, answer_headers, headers_ms, stream, reads, end_ms, broken
            )
            self._pending.add(job)
            job.add_done_callback(self._pending.discard)

        return RecordingResponse(response, sent_ns, done)

    def _write(
        self,
        interaction: Interaction,
        headers: list[tuple[str, str]],
        headers_ms: float,
        stream: bool,
        reads: list[tuple[bytes, float]],
        end_ms: float,
        broken: StreamBreak | None,
    ) -> None:
        """Writer thread: redact the answer and write the interaction file."""
        try:
            interaction.response = recorded_response(
                interaction.response.status,
                headers,
                headers_ms,
                stream,
                reads,
                end_ms,
                self.redactor,
                broken,
            )
            self.cassette.add(interaction)
            self.recorded += 1
        except Exception:
            self.write_errors += 1
            log.exception("could not write to cassette %s", self.cassette.name)

    # -- the addon and the end ----------------------------------------------------------

    def before_save(self, trace: Trace) -> Trace:
        """``before_save`` hook: mark a recorded, replayed or missed call's trace
        (``meta.cassette``, ``meta.replayed_from`` / ``meta.recorded_to``)."""
        marks = self._marks.pop(trace.id, None)
        if marks:
            trace.meta.update(marks)
        return trace

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every interaction recorded so far is written."""
        for job in list(self._pending):
            job.exception(timeout)

    def close(self) -> None:
        """Write what is pending and stop the writer thread."""
        self._writer.shutdown(wait=True)
