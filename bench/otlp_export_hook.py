"""Cost of the OTLP export addon's ``saved`` hook per trace (the trace writer's thread), against
the save itself, in the same process.

    python bench/otlp_export_hook.py [--repeat 30]

Traces are built the way the proxy builds them (SSE framing, Exchange.add_event, to_trace) from
the bundled real OpenAI transcripts (34 and 302 chunks), content capture on (the heavier
mapping). Three costs per trace, medians of ``--repeat`` rounds of 20 traces:

- ``save``: ``TraceStore.save`` (fsync off), what the writer does anyway;
- ``hook``: ``OtlpExportAddon.saved`` as shipped: the trace is put on the export queue; the
  mapping and the SDK span are made in the queue's thread (flushed outside the timing);
- ``inline``: the mapping done in the hook (``map_trace`` + ``submit``: the GenAI attributes,
  the messages JSON, the SDK ``ReadableSpan``), what the hook did before the queue.

Export goes to an OTLP/JSON lines file in a temp folder (no network). Reported as ratios to the
save: the hook's share of the writer's time per trace.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from traceforge_proxy.mock_upstream import LONG_TEXT_STREAM, TEXT_STREAM, transcript_bytes
from traceforge_proxy.otlp_export import otlp_export_addon
from traceforge_proxy.sse import SSEParser
from traceforge_proxy.testing import make_exchange
from traceforge_shared.config import Config
from traceforge_shared.ids import new_trace_id
from traceforge_shared.otel.export_sdk import OtlpExport
from traceforge_shared.store import TraceStore
from traceforge_shared.trace import Trace

BATCH = 20


def build(name: str) -> Trace:
    parser = SSEParser()
    exchange = make_exchange()
    exchange.streaming = True
    for i, event in enumerate(parser.feed(transcript_bytes(name))):
        exchange.add_event(event, i * 1_000_000, withhold_usage_chunk=False)
    return exchange.to_trace()


def timed(func: Callable[[Trace], object], traces: list[Trace]) -> float:
    """Mean ms per trace of ``func`` over ``traces``."""
    start = time.perf_counter()
    for trace in traces:
        func(trace)
    return (time.perf_counter() - start) / len(traces) * 1000


def fresh(trace: Trace) -> list[Trace]:
    """``BATCH`` copies of ``trace``, each with its own id (so saves do not overwrite)."""
    return [msgspec.structs.replace(copy.deepcopy(trace), id=new_trace_id()) for _ in range(BATCH)]


def main(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        store = TraceStore(Path(home) / "home", fsync=False)
        config = Config()
        config.export.otlp.file = str(Path(home) / "otlp" / "traces.jsonl")
        config.export.otlp.capture_content = True
        addon = otlp_export_addon(config, store.home)
        assert addon is not None
        inline = OtlpExport(config.export.otlp, home=store.home)

        def inline_hook(trace: Trace) -> None:
            inline.submit(inline.map_trace(trace))

        for label, name in (("2024 stream", TEXT_STREAM), ("2026 stream", LONG_TEXT_STREAM)):
            trace = build(name)
            saves, hooks, inlines = [], [], []
            for _ in range(repeat):
                saves.append(timed(store.save, fresh(trace)))
                hooks.append(timed(addon.saved, fresh(trace)))
                addon.flush()
                inlines.append(timed(inline_hook, fresh(trace)))
                inline.force_flush()
            save, hook, inl = (statistics.median(x) for x in (saves, hooks, inlines))
            print(
                f"{label:<12} {len(trace.chunks):4d} chunks  save {save:6.3f} ms  "
                f"hook {hook * 1000:6.1f} µs = {hook / save:6.4f}x the save  "
                f"(mapping inline: {inl:6.3f} ms = {inl / save:5.3f}x)"
            )
        addon.close()
        inline.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    main(parser.parse_args().repeat)
