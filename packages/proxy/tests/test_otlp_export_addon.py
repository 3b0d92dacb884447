"""The OTLP export addon as the trace writer uses it: made in a child process with
``otlp_export_addon(config, home)``, given saved traces through ``saved``, closed at shutdown.

The traces are real ones: the official OpenAI SDK streams chat completions through the proxy
(mock upstream replaying a recorded OpenAI stream) with export off; their saved traces are
then handed to an addon in a ``spawn``ed child process (nothing shared with the parent),
which exports them to a local OTLP/HTTP sink whose bodies are decoded with
``opentelemetry-proto``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_proxy.otlp_export import otlp_export_addon
from traceforge_proxy.otlp_sink import OtlpSink
from traceforge_proxy.runner import ProxyService
from traceforge_proxy.testing import saved_traces
from traceforge_shared.config import Config
from traceforge_shared.trace import Trace

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLS = 3


#: The writer child's part, run by a fresh interpreter (nothing shared with this process):
#: its own addon, every trace given to ``saved``, then closed at once (no wait: closing must
#: export what was queued). argv: config JSON file, home, traces JSON file.
_CHILD = """
import sys
from pathlib import Path

import msgspec

from traceforge_proxy.otlp_export import otlp_export_addon
from traceforge_shared.config import Config
from traceforge_shared.trace import Trace

config = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Config)
addon = otlp_export_addon(config, Path(sys.argv[2]))
assert addon is not None
for trace in msgspec.json.decode(Path(sys.argv[3]).read_bytes(), type=list[Trace]):
    addon.saved(trace)
addon.close()
"""


async def _traces(make_proxy: Any, sdk: Any) -> list[Trace]:
    service: ProxyService = await make_proxy()
    client = sdk(service)
    for index in range(CALLS):
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"Say hello ({index})"}],
            stream=True,
            extra_headers={"traceparent": f"00-{RUN}-00f067aa0ba902b{index}-01"},
        )
        assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    return await saved_traces(service, CALLS)


async def test_an_addon_made_in_a_child_process_exports_everything_on_close(  # type: ignore[no-untyped-def]
    make_proxy, sdk, store, tmp_path: Path
) -> None:
    traces = await _traces(make_proxy, sdk)
    sink = OtlpSink()
    async with sink as url:
        config = Config()
        config.export.otlp.endpoint = url
        config_file = tmp_path / "config.json"
        config_file.write_bytes(msgspec.json.encode(config))
        traces_file = tmp_path / "traces.json"
        traces_file.write_bytes(msgspec.json.encode(traces))
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD, str(config_file), str(store.home), str(traces_file)
        )
        assert await child.wait() == 0
    exported = {
        span.span_id.hex(): span
        for request in sink.trace_requests()
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    }
    assert all(t.span is not None for t in traces)
    assert set(exported) == {t.span.span_id for t in traces if t.span is not None}
    assert {span.trace_id.hex() for span in exported.values()} == {RUN}
    assert sink.metric_requests()  # the duration histograms are flushed on close too


async def test_the_saved_hook_leaves_the_mapping_to_the_export_thread(  # type: ignore[no-untyped-def]
    make_proxy, sdk, store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (trace, *_) = await _traces(make_proxy, sdk)
    config = Config()
    config.export.otlp.file = str(tmp_path / "traces.jsonl")
    addon = otlp_export_addon(config, store.home)
    assert addon is not None
    broken = msgspec.structs.replace(trace, timestamp="not a time")
    with caplog.at_level(logging.WARNING, logger="traceforge.otel"):
        addon.saved(broken)  # returns at once: the trace is only queued
        addon.saved(trace)
        assert addon.flush()
    addon.close()
    (record,) = [r for r in caplog.records if "not exported" in r.getMessage()]
    assert record.threadName != threading.current_thread().name
    assert record.threadName == "traceforge-otlp-map"
    (line,) = (tmp_path / "traces.jsonl").read_text().splitlines()
    assert trace.id in line  # the good trace went on: one bad trace stops nothing
