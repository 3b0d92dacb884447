"""Saving traces in a process of its own (``storage.writer: process``), so that building,
redacting, pricing, saving, indexing and exporting never hold the proxy's GIL.

:class:`ProcessTraceWriter` is the proxy's side, an addon like
:class:`~traceforge_proxy.writer.TraceWriter` (``response`` / ``error`` hand over the finished
call; :meth:`~ProcessTraceWriter.drain`, :meth:`~ProcessTraceWriter.storage_health`,
``on_health_change``, ``failures`` as there). On the event loop it only takes the call's
:class:`~traceforge_proxy.exchange_record.ExchangeRecord` and encodes it once (msgspec
MessagePack, :mod:`traceforge_proxy.writer_protocol`) and writes it to the writer process's
stdin, a non-blocking pipe (1 MiB): at once when nothing is queued before it (no thread
wakes up), else (the pipe is full: the writer is behind) through a sender thread that waits
for room. A receiver thread reads the answers from the writer's stdout.

The writer process (:data:`WRITER_COMMAND`: this interpreter running :func:`main`) runs a
:class:`~traceforge_proxy.writer.TraceWriter` (batches, one index commit each, store faults
held in memory and retried, pruning) whose flows build their trace from the record
(:func:`~traceforge_proxy.trace_build.build_trace`, the code of thread mode), with the
``before_save`` chain built there from the config (Redactor first, EmbeddingVectors,
CostRecorder) and the OTLP export addon (``export.otlp``) as its ``saved`` hook. The proxy's
own ``saved`` hooks (live feed, budgets, the access log) get each stored trace back: the
writer sends it (MessagePack) only when the proxy has such hooks, only its head
(:func:`~traceforge_proxy.hooks.trace_head`) when they all say ``saved_head_only`` (they
do), and the proxy decodes it only while one listens (an addon with a ``subscribers`` count
of 0, the live feed without subscribers, does not): decoding a whole 200-chunk trace costs
~0.5 ms of the proxy's GIL, its head a few µs.

Scheduling: the thread reading the pipe runs at the proxy's own priority (it only copies
the bytes out, so the pipe never stays full); every other thread runs at niceness
:data:`WRITER_NICE` and under Linux's ``SCHED_IDLE`` (:func:`_idle_priority`): the proxy
preempts the saving work as soon as it has something to do.

Crash safety: the proxy keeps every call it handed over until the writer says it is done
with it (saved, held or dropped). If the writer process dies (SIGKILL, OOM), the receiver
notices the closed pipe, starts a new one and sends it again every call not done (a trace
saved twice is the same file, rewritten). If the proxy dies, the writer reads the end of its
stdin, saves what it received and exits: a SIGKILL of the proxy loses only the calls still
in flight in the proxy and those queued in its sender thread (only while the pipe's 1 MiB
is full: the writer's reader thread keeps draining it).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import itertools
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import msgspec

from traceforge_proxy.exchange_record import ExchangeRecord, decode_record
from traceforge_proxy.hooks import Addons, trace_head
from traceforge_proxy.writer import StorageHealth, TraceWriter
from traceforge_proxy.writer_protocol import (
    Close,
    Done,
    Health,
    HealthState,
    Ready,
    Saved,
    Start,
    Submit,
    SubmitUndecoded,
    frame,
    from_writer,
    read_frame,
    read_messages,
    to_writer,
    to_writer_undecoded,
    write_frame,
)
from traceforge_shared.config import Config
from traceforge_shared.trace import Trace

__all__ = ["ProcessTraceWriter", "RecordedFlow", "WriterProcessError", "main"]

log = logging.getLogger("traceforge.proxy")

#: Seconds to wait for a new writer process to say it is ready.
READY_TIMEOUT_S = 60.0
#: The writer process's niceness: on a core shared with the proxy, the proxy's event loop
#: runs first. Its saving threads also run under ``SCHED_IDLE`` (:func:`_idle_priority`).
WRITER_NICE = 10
#: Environment variable: ``normal`` keeps the saving threads at :data:`WRITER_NICE` instead
#: of ``SCHED_IDLE`` (for comparisons; Linux only either way).
SCHED_ENV = "TRACEFORGE_WRITER_SCHED"
#: Pipe buffer asked for (bytes; Linux ``F_SETPIPE_SZ``): a burst of calls goes out without
#: the sender thread waiting on the writer.
PIPE_BYTES = 1 << 20

#: The writer process's command line: this interpreter, running :func:`main`.
WRITER_COMMAND = (
    sys.executable,
    "-c",
    "import sys; from traceforge_proxy.writer_process import main; sys.exit(main())",
)

_trace_decoder = msgspec.msgpack.Decoder(Trace)
_trace_encoder = msgspec.msgpack.Encoder()


class WriterProcessError(RuntimeError):
    """The writer process could not be started (it exited, or said nothing in time)."""


class RecordedFlow(Protocol):
    """A call that is over and can hand over its record (the proxy's
    :class:`~traceforge_proxy.exchange.Exchange`)."""

    @property
    def trace_id(self) -> str:
        """The id the trace is saved under."""
        ...

    def record(self) -> ExchangeRecord:
        """What the trace is built from."""
        ...


def _write_some(fd: int, data: bytes | memoryview) -> int:
    """Write what fits of ``data`` to the non-blocking ``fd`` now; the bytes written.

    Raises:
        OSError: the pipe is closed (the writer process exited).
    """
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (non-blocking for the event loop), in blocking mode
    for the time of the write: one system call for a whole frame, the GIL released once
    (writing what fits, waiting for room and writing again held and released it per piece,
    and the event loop paid for each). Call it holding the write lock, so the loop never
    sees the pipe blocking.

    Raises:
        OSError: the pipe is closed (the writer process exited).
    """
    view = memoryview(data)
    os.set_blocking(fd, True)
    try:
        while view:  # a signal can cut a blocking write short
            view = view[os.write(fd, view) :]
    finally:
        with contextlib.suppress(OSError):
            os.set_blocking(fd, False)


def _health(state: HealthState) -> StorageHealth:
    return StorageHealth(
        status="degraded" if state.status == "degraded" else "ok",
        unsaved_traces=state.unsaved_traces,
        unsaved_bytes=state.unsaved_bytes,
        dropped_traces=state.dropped_traces,
        store_error=state.store_error,
    )


class ProcessTraceWriter:
    """The proxy's side of the writer process (see the module docstring).

    Args:
        config: the config the writer process builds its addons from (``redaction``,
            ``storage``, ``export``).
        home: the store's home directory.
        fsync: flush each trace file before renaming it (the store's ``fsync``).
        addons: the proxy's ``saved`` hooks (objects with a ``saved`` method; an addon with
            ``before_save`` cannot run here: :class:`~traceforge_proxy.runner.ProxyService`
            uses thread mode then).
        prune_interval_s, retry_interval_s: as for :class:`~traceforge_proxy.writer.
            TraceWriter`.
        command: the writer process's command line (default: :data:`WRITER_COMMAND`).

    Attributes:
        failures: traces lost so far (the writer's count, over every writer process).
        restarts: writer processes started again after one died.
        on_health_change: called (in the receiver thread) with the new
            :class:`~traceforge_proxy.writer.StorageHealth` when saving starts failing
            and when it recovers.
    """

    def __init__(
        self,
        config: Config,
        home: Path,
        *,
        fsync: bool,
        addons: Addons | Sequence[object] = (),
        prune_interval_s: float | None = 60.0,
        retry_interval_s: float = 2.0,
        command: Sequence[str] | None = None,
    ) -> None:
        self.addons = addons if isinstance(addons, Addons) else Addons(addons)
        self._start_frame = frame(
            Start(
                config=config,
                home=str(home),
                fsync=fsync,
                send_traces=self.addons.has("saved"),
                head_only=self.addons.saved_head_only(),
                prune_interval_s=prune_interval_s,
                retry_interval_s=retry_interval_s,
            )
        )
        self.command = list(command or WRITER_COMMAND)
        self.on_health_change: Callable[[StorageHealth], object] | None = None
        self.failures = 0
        self.restarts = 0
        self._failures_before = 0  # of writer processes that died
        self._seqs = itertools.count(1)
        #: calls handed over and not done, by seq: their encoded Submit frame.
        self._pending: dict[int, bytes] = {}
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._outbox: collections.deque[bytes | None] = collections.deque()
        self._outbox_ready = threading.Event()
        self._health = HealthState("ok", 0, 0, 0, None, 0)
        self._process: subprocess.Popen[bytes] | None = None
        self._closing = False
        self._sender: threading.Thread | None = None
        self._receiver: threading.Thread | None = None
        self._started = threading.Lock()

    # -- starting --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer process and wait until it is ready (idempotent; blocking: call
        it off the event loop).

        Raises:
            WriterProcessError: the process exited or did not answer within
                :data:`READY_TIMEOUT_S` seconds.
        """
        with self._started:
            if self._receiver is not None:
                return
            process = self._spawn()
            self._sender = threading.Thread(target=self._send_loop, name="trace-sender")
            self._sender.daemon = True
            self._sender.start()
            self._receiver = threading.Thread(
                target=self._receive_loop, args=(process,), name="trace-receiver"
            )
            self._receiver.daemon = True
            self._receiver.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start a writer process, send :class:`Start`, wait for :class:`Ready`."""
        process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True
        )
        assert process.stdin is not None and process.stdout is not None
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        ready: list[bytes | None] = []
        stdout = process.stdout
        waiter = threading.Thread(target=lambda: ready.append(read_frame(stdout)), daemon=True)
        try:
            with self._write_lock:
                write_frame(process.stdin, self._start_frame)
                self._process = process
            waiter.start()
            waiter.join(READY_TIMEOUT_S)
        except OSError:
            pass
        message: object = None
        if ready and ready[0] is not None:
            with contextlib.suppress(msgspec.DecodeError):
                message = from_writer.decode(ready[0])
        if isinstance(message, Ready):
            os.set_blocking(process.stdin.fileno(), False)  # see _post
        else:
            process.kill()
            process.wait()
            self._discard(process)
            raise WriterProcessError(
                f"the writer process ({' '.join(self.command)}) did not start "
                f"(exit code {process.returncode})"
            )
        return process

    # -- the hooks (event loop) ------------------------------------------------------------

    def submit(self, flow: RecordedFlow) -> None:
        """Hand a finished call over (encoded here, written by the sender thread)."""
        if self._receiver is None:
            self.start()
        record = flow.record()
        seq = next(self._seqs)  # atomic: itertools.count is one C call
        data = frame(Submit(seq=seq, record=record))
        with self._cond:
            self._pending[seq] = data
        self._post(data)

    def response(self, flow: RecordedFlow) -> None:
        """``response`` hook: the call ended with a whole answer; hand it over."""
        self.submit(flow)

    def error(self, flow: RecordedFlow) -> None:
        """``error`` hook: the call ended without a whole answer; hand it over."""
        self.submit(flow)

    def storage_health(self) -> StorageHealth:
        """Whether traces are being saved (the writer's last report; any thread)."""
        with self._cond:
            return _health(self._health)

    # -- the threads -----------------------------------------------------------------------

    def _post(self, data: bytes | None) -> None:
        """Write a frame to the writer's stdin now if nothing is queued before it and the
        pipe has room, else queue it (or what did not fit) for the sender thread (``b""``:
        close the writer's stdin; ``None``: stop the thread).

        Frames are taken from the queue and written only under ``_write_lock``, so a frame
        written here never lands inside another; a writer that died meanwhile is no error:
        the receiver starts another and re-sends every call not done."""
        if data and self._write_lock.acquire(blocking=False):
            try:
                process = self._process
                if not self._outbox and process is not None and process.stdin is not None:
                    try:
                        written = _write_some(process.stdin.fileno(), data)
                    except (OSError, ValueError):
                        return
                    if written == len(data):
                        return
                    self._outbox.appendleft(data[written:])  # the rest of this frame first
                    self._outbox_ready.set()
                    return
            finally:
                self._write_lock.release()
        self._outbox.append(data)
        self._outbox_ready.set()

    def _send_loop(self) -> None:
        """Write queued frames to the current writer process, waiting for room in the
        pipe (blocking only this thread)."""
        while True:
            self._outbox_ready.wait()
            self._outbox_ready.clear()
            while True:
                with self._write_lock:
                    if not self._outbox:
                        break
                    data = self._outbox.popleft()
                    if data is None:
                        return
                    process = self._process
                    if process is None or process.stdin is None:
                        continue
                    try:
                        if data:
                            _write_all(process.stdin.fileno(), data)
                        else:
                            _write_all(process.stdin.fileno(), frame(Close()))
                            process.stdin.close()
                    except (OSError, ValueError):
                        pass  # the writer died: the receiver starts another and re-sends

    def _receive_loop(self, process: subprocess.Popen[bytes]) -> None:
        while True:
            self._receive(process)
            process.wait()
            self._discard(process)
            with self._cond:
                pending = sorted(self._pending)
                self._failures_before += self._health.failures
                self._health = msgspec.structs.replace(self._health, failures=0)
            if self._closing and not pending:
                return
            log.error(
                "the trace writer process exited (code %s) with %d calls not saved; "
                "starting another and sending them again",
                process.returncode,
                len(pending),
            )
            process = self._respawn()
            self.restarts += 1
            with self._cond:  # everything not done, in order (what the outbox held too)
                self._outbox.clear()
                again = [self._pending[s] for s in sorted(self._pending)]
            for data in again:
                self._post(data)
            if self._closing:
                self._post(b"")

    def _discard(self, process: subprocess.Popen[bytes]) -> None:
        """Close the pipes of a writer process that exited."""
        with self._write_lock:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()

    def _respawn(self) -> subprocess.Popen[bytes]:
        delay = 0.1
        while True:
            try:
                return self._spawn()
            except WriterProcessError as exc:
                log.error("%s; trying again in %.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _receive(self, process: subprocess.Popen[bytes]) -> None:
        """Read the writer's messages until its stdout closes."""
        source = process.stdout
        assert source is not None
        listeners = [a for a in self.addons.addons if callable(getattr(a, "saved", None))]
        for message in read_messages(source, from_writer, "the trace writer process"):
            if isinstance(message, Saved):
                # Decoded only while a hook listens (the live feed: while it has subscribers):
                # a 200-chunk trace costs ~0.5 ms of the proxy's GIL, 99% of it the chunks.
                if any(getattr(a, "subscribers", 1) for a in listeners):
                    self.addons.saved(_trace_decoder.decode(message.trace))
            elif isinstance(message, Done):
                with self._cond:
                    for seq in message.seqs:
                        self._pending.pop(seq, None)
                    self._health = message.health
                    self.failures = self._failures_before + message.health.failures
                    self._cond.notify_all()
            elif isinstance(message, Health):
                with self._cond:
                    self._health = message.health
                callback = self.on_health_change
                if callback is not None:
                    try:
                        callback(_health(message.health))
                    except Exception:
                        log.exception("on_health_change failed")

    # -- waiting and stopping --------------------------------------------------------------

    def drain(self, timeout: float | None = 30.0) -> bool:
        """Wait until every call handed over so far is saved, held (store fault) or
        dropped, and the ``saved`` hooks of those saved ran; ``False`` on timeout
        (seconds)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        """Let the writer process save everything handed over, then stop it and the
        threads (blocking; a writer that dies meanwhile is started again to finish)."""
        receiver = self._receiver
        if receiver is None or self._closing:
            return
        self._closing = True
        self._post(b"")
        receiver.join()
        self._post(None)
        if self._sender is not None:
            self._sender.join(5)
        process = self._process
        if process is not None:
            process.wait()

    @property
    def pid(self) -> int | None:
        """The writer process's id (``None`` before :meth:`start`)."""
        process = self._process
        return None if process is None else process.pid


# -- the writer process ---------------------------------------------------------------------


class _RecordFlow:
    """A submitted call in the writer process: builds its trace from the record, decoded
    by the thread that builds it (not by the pipe reader: see :class:`SubmitUndecoded`)."""

    __slots__ = ("_encoded", "_record", "seq")

    def __init__(self, seq: int, record: msgspec.Raw) -> None:
        self.seq = seq
        self._encoded: msgspec.Raw | None = record
        self._record: ExchangeRecord | None = None

    @property
    def record(self) -> ExchangeRecord:
        """The call's record (decoded at first use).

        Raises:
            msgspec.DecodeError: the proxy sent a record that does not decode.
        """
        record = self._record
        if record is None:
            assert self._encoded is not None
            record = self._record = decode_record(self._encoded)
            self._encoded = None
        return record

    @property
    def trace_id(self) -> str:
        try:
            return self.record.trace_id
        except msgspec.DecodeError:
            return f"(undecodable call {self.seq})"

    def to_trace(self) -> Trace:
        from traceforge_proxy.trace_build import build_trace

        return build_trace(self.record)


class _Replies:
    """The writer process's answers on its stdout (one lock: several threads write)."""

    def __init__(self, out: IO[bytes], send_traces: bool, head_only: bool = False) -> None:
        self.out = out
        self.send_traces = send_traces
        self.head_only = head_only
        self.lock = threading.Lock()
        self.writer: TraceWriter | None = None

    def send(self, message: Ready | Saved | Done | Health) -> None:
        data = frame(message)
        with self.lock, contextlib.suppress(OSError, ValueError):
            write_frame(self.out, data)  # the proxy is gone: nobody to tell

    def state(self) -> HealthState:
        writer = self.writer
        assert writer is not None
        health = writer.storage_health()
        return HealthState(
            health.status,
            health.unsaved_traces,
            health.unsaved_bytes,
            health.dropped_traces,
            health.store_error,
            writer.failures,
        )

    def saved(self, trace: Trace) -> None:
        """``saved`` hook: the stored trace (or its head) goes back to the proxy's ``saved``
        hooks."""
        if self.send_traces:
            sent = trace_head(trace) if self.head_only else trace
            self.send(Saved(msgspec.Raw(_trace_encoder.encode(sent))))

    def done(self, flows: list[Any]) -> None:
        self.send(Done([flow.seq for flow in flows], self.state()))

    def health(self, _: StorageHealth) -> None:
        self.send(Health(self.state()))


def _addons(config: Config, home: Path, replies: _Replies) -> tuple[list[object], Any]:
    """The writer process's addons: the ``before_save`` chain of
    :class:`~traceforge_proxy.runner.ProxyService` (Redactor first), the OTLP export, and
    the replies to the proxy; and the export addon (to close)."""
    from traceforge_proxy.embedding_trace import EmbeddingVectors
    from traceforge_shared.cost import CostRecorder
    from traceforge_shared.redact import Redactor

    export = None
    if config.export.otlp.enabled:  # the OpenTelemetry SDK only when exporting
        from traceforge_proxy.otlp_export import otlp_export_addon

        export = otlp_export_addon(config, home)
    addons: list[object] = [
        Redactor(config.redaction),
        EmbeddingVectors(config.storage.embedding_values),
        CostRecorder(),
    ]
    if export is not None:
        addons.append(export)
    addons.append(replies)
    return addons, export


#: Calls the writer process remembers having received, to skip one sent twice (a call the
#: sender thread was writing while the proxy re-sent everything to a new writer).
_SEEN_MAX = 65_536

#: A finished call priced and redacted once at start, so the first real one does not pay
#: for the imports (the price tables are a large module).
_WARM_UP = ExchangeRecord(
    trace_id="0" * 24,
    timestamp="2026-01-01T00:00:00.000000Z",
    method="POST",
    endpoint="/v1/chat/completions",
    provider="openai",
    model="gpt-4o",
    request_body=b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}',
    status_code=200,
    response_body=b'{"object": "chat.completion", "model": "gpt-4o", "choices": [], '
    b'"usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}',
)


def _warm_up(writer: TraceWriter) -> None:
    """Build, redact and price :data:`_WARM_UP` (not saved); a failure is only logged."""
    from traceforge_proxy.trace_build import build_trace

    try:
        writer.addons.before_save(build_trace(_WARM_UP))
    except Exception:
        log.exception("warming up the trace writer failed")


def main() -> int:
    """The writer process: read :class:`Start` from stdin, build the writer, answer
    :class:`Ready`, then save each :class:`Submit` until :class:`Close` or the end of stdin
    (the proxy exited); everything received is saved before it exits."""
    from traceforge_shared.store import TraceStore

    source = sys.stdin.buffer
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the proxy's: it closes us
    first = read_frame(source)
    if first is None:
        return 0
    try:
        start: object = to_writer.decode(first)
    except msgspec.DecodeError:
        start = None
    if not isinstance(start, Start):
        print("traceforge writer: expected a start message", file=sys.stderr)
        return 2
    home = Path(start.home)
    # The reader, at the proxy's own priority, drains the pipe into memory at once: what
    # the proxy handed over survives its death, and the proxy never waits on a full pipe
    # (a copy of the bytes is all it does). Every other thread is niced (Linux: per thread,
    # so after the reader started) and, once built, runs idle.
    handoff: queue.SimpleQueue[TraceWriter] = queue.SimpleQueue()
    reader = threading.Thread(
        target=_read_calls, args=(source, handoff), name="trace-reader", daemon=True
    )
    reader.start()
    with contextlib.suppress(OSError, AttributeError):
        os.nice(int(os.environ.get("TRACEFORGE_WRITER_NICE", WRITER_NICE)))
    replies = _Replies(out, start.send_traces, start.head_only)
    addons, export = _addons(start.config, home, replies)
    writer = TraceWriter(
        TraceStore(home, fsync=start.fsync),
        addons=addons,
        storage=start.config.storage,
        prune_interval_s=start.prune_interval_s,
        retry_interval_s=start.retry_interval_s,
        on_health_change=replies.health,
        on_done=replies.done,
    )
    replies.writer = writer
    _idle_priority(keep=reader.native_id)
    handoff.put(writer)  # before Ready: the proxy sends calls only after it
    replies.send(Ready(os.getpid()))
    _warm_up(writer)
    reader.join()
    writer.close()
    if export is not None:
        export.close()
    return 0


def _idle_priority(keep: int | None) -> None:
    """Put every thread of this process but ``keep`` (a native thread id) under Linux's
    ``SCHED_IDLE`` policy (sched(7)); threads they start inherit it. A thread of the proxy
    that wakes up preempts them at once, so on a core shared with the proxy (a busy
    machine, or the benchmark's pinned core) saving and exporting never delay a call; they
    still get a small share when the core is busy (weight 3 against 1,024 for a nice-0
    thread) and take every idle moment. ``$TRACEFORGE_WRITER_SCHED=normal`` leaves them at
    :data:`WRITER_NICE`; without ``/proc`` (not Linux) nothing changes."""
    if os.environ.get(SCHED_ENV) == "normal":
        return
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except (OSError, ValueError):
        return
    for thread in threads:
        if thread != keep:
            with contextlib.suppress(OSError, AttributeError):  # gone, or not allowed
                os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))


def _read_calls(source: IO[bytes], handoff: queue.SimpleQueue[TraceWriter]) -> None:
    """Hand each :class:`Submit` to the writer (given through ``handoff`` once built: calls
    come only after :class:`Ready`, sent once it is) until :class:`Close` or the end of
    stdin."""
    writer: TraceWriter | None = None
    seen: set[int] = set()
    for message in read_messages(source, to_writer_undecoded, "the proxy"):
        if isinstance(message, Close):
            return
        if isinstance(message, SubmitUndecoded) and message.seq not in seen:
            if len(seen) >= _SEEN_MAX:  # duplicates only follow a restart closely
                seen.clear()
            seen.add(message.seq)
            if writer is None:
                writer = handoff.get()
            writer.submit(_RecordFlow(message.seq, message.record))


if __name__ == "__main__":
    sys.exit(main())
