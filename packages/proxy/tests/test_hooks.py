"""The :class:`Addons` dispatcher: only implemented hooks are called, in the addons' order;
a failing flow or ``saved`` hook is logged and the others still run; ``before_save`` errors
propagate."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from traceforge_proxy.hooks import (
    FLOW_HOOKS,
    HOOKS,
    TRACE_HOOKS,
    Addons,
    Admission,
    BeforeSave,
    Saved,
)
from traceforge_proxy.plan import ProxyAnswer
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import StreamChunk, Trace


class Recorder:
    """Implements every hook; records ``(name, hook, args)`` into a shared list."""

    def __init__(self, name: str, calls: list[tuple[str, str, tuple[Any, ...]]]) -> None:
        self.name = name
        self.calls = calls

    def request(self, flow: Any) -> None:
        self.calls.append((self.name, "request", (flow,)))

    def response_headers(self, flow: Any) -> None:
        self.calls.append((self.name, "response_headers", (flow,)))

    def chunk(self, flow: Any, chunk: StreamChunk) -> None:
        self.calls.append((self.name, "chunk", (flow, chunk)))

    def response(self, flow: Any) -> None:
        self.calls.append((self.name, "response", (flow,)))

    def error(self, flow: Any) -> None:
        self.calls.append((self.name, "error", (flow,)))

    def before_save(self, trace: Trace) -> Trace:
        self.calls.append((self.name, "before_save", (trace,)))
        return trace

    def saved(self, trace: Trace) -> None:
        self.calls.append((self.name, "saved", (trace,)))


class OnlySaved:
    def __init__(self) -> None:
        self.seen: list[Trace] = []

    def saved(self, trace: Trace) -> None:
        self.seen.append(trace)


class Raising:
    """Every flow hook and ``saved`` raise."""

    def request(self, flow: Any) -> None:
        raise RuntimeError("request broke")

    def response(self, flow: Any) -> None:
        raise RuntimeError("response broke")

    def saved(self, trace: Trace) -> None:
        raise RuntimeError("saved broke")


def test_hook_names() -> None:
    assert FLOW_HOOKS == ("request", "admit", "response_headers", "chunk", "response", "error")
    assert TRACE_HOOKS == ("before_save", "saved")
    assert HOOKS == FLOW_HOOKS + TRACE_HOOKS


def test_every_hook_reaches_every_addon_in_order() -> None:
    calls: list[tuple[str, str, tuple[Any, ...]]] = []
    addons = Addons([Recorder("a", calls), Recorder("b", calls)])
    flow, chunk, trace = (
        object(),
        StreamChunk(index=0, delta_ms=1.5, offset_ms=1.5, data={}),
        make_trace(),
    )
    addons.request(flow)  # type: ignore[arg-type]
    addons.response_headers(flow)  # type: ignore[arg-type]
    addons.chunk(flow, chunk)  # type: ignore[arg-type]
    addons.response(flow)  # type: ignore[arg-type]
    addons.error(flow)  # type: ignore[arg-type]
    assert addons.before_save(trace) is trace
    addons.saved(trace)
    expected = []
    for hook, args in [
        ("request", (flow,)),
        ("response_headers", (flow,)),
        ("chunk", (flow, chunk)),
        ("response", (flow,)),
        ("error", (flow,)),
        ("before_save", (trace,)),
        ("saved", (trace,)),
    ]:
        expected += [("a", hook, args), ("b", hook, args)]
    assert calls == expected


def test_only_implemented_hooks_are_called() -> None:
    only = OnlySaved()
    addons = Addons([only, object()])
    assert addons.has("saved")
    assert not any(addons.has(name) for name in HOOKS if name != "saved")
    trace = make_trace()
    addons.request(object())  # type: ignore[arg-type]
    addons.response(object())  # type: ignore[arg-type]
    assert addons.before_save(trace) is trace  # no hook: the trace unchanged
    addons.saved(trace)
    assert only.seen == [trace]


def test_no_addons() -> None:
    addons = Addons()
    assert addons.addons == []
    assert not any(addons.has(name) for name in HOOKS)
    trace = make_trace()
    addons.chunk(object(), StreamChunk(index=0, delta_ms=0.0, offset_ms=0.0, data=None))  # type: ignore[arg-type]
    assert addons.before_save(trace) is trace


def test_non_callable_attribute_is_not_a_hook() -> None:
    class Attr:
        saved = "not a method"

    assert not Addons([Attr()]).has("saved")


def test_a_raising_hook_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[tuple[str, str, tuple[Any, ...]]] = []
    addons = Addons([Recorder("a", calls), Raising(), Recorder("b", calls)])
    flow, trace = object(), make_trace()
    with caplog.at_level(logging.ERROR, logger="traceforge.proxy"):
        addons.request(flow)  # type: ignore[arg-type]
        addons.response(flow)  # type: ignore[arg-type]
        addons.saved(trace)
    assert [(n, h) for n, h, _ in calls] == [
        ("a", "request"),
        ("b", "request"),
        ("a", "response"),
        ("b", "response"),
        ("a", "saved"),
        ("b", "saved"),
    ]
    failed = [r.getMessage() for r in caplog.records]
    assert failed == [
        "addon hook request failed",
        "addon hook response failed",
        "addon hook saved failed",
    ]
    assert all(r.exc_info is not None for r in caplog.records)


def test_before_save_chains_in_order() -> None:
    class Tag:
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def before_save(self, trace: Trace) -> Trace:
            trace.metadata.warnings.append(self.tag)
            return trace

    class Replace:
        def __init__(self, replacement: Trace) -> None:
            self.replacement = replacement

        def before_save(self, trace: Trace) -> Trace:
            return self.replacement

    original, replacement = make_trace(text="original"), make_trace(text="replacement")
    addons = Addons([Tag("first"), Replace(replacement), Tag("second")])
    stored = addons.before_save(original)
    assert stored is replacement
    assert original.metadata.warnings == ["first"]
    assert replacement.metadata.warnings == ["second"]


def test_before_save_propagates() -> None:
    calls: list[tuple[str, str, tuple[Any, ...]]] = []

    class Broken:
        def before_save(self, trace: Trace) -> Trace:
            raise ValueError("redactor broke")

    addons = Addons([Broken(), Recorder("after", calls)])
    with pytest.raises(ValueError, match="redactor broke"):
        addons.before_save(make_trace())
    assert calls == []  # nothing after the failing hook saw the trace


def test_protocols_match_duck_typed_addons() -> None:
    assert isinstance(Recorder("a", []), BeforeSave)
    assert isinstance(Recorder("a", []), Saved)
    assert isinstance(OnlySaved(), Saved)
    assert not isinstance(OnlySaved(), BeforeSave)


class Admitting:
    """An ``admit`` hook giving ``headers`` and maybe ``answer``."""

    def __init__(self, headers: tuple[tuple[str, str], ...], answer: ProxyAnswer | None) -> None:
        self.admission = Admission(headers, answer)
        self.asked = 0

    def admit(self, flow: Any, client: Any, plan: Any) -> Admission:
        self.asked += 1
        return self.admission


class AdmitRaising:
    def admit(self, flow: Any, client: Any, plan: Any) -> Admission:
        raise RuntimeError("admit broke")


def test_admit_merges_headers_and_the_first_answer_wins(caplog: pytest.LogCaptureFixture) -> None:
    refusal = ProxyAnswer(429, b"{}")
    first = Admitting((("X-A", "1"),), None)
    second = Admitting((("X-B", "2"),), refusal)
    third = Admitting((("X-C", "3"),), ProxyAnswer(500, b"{}"))
    addons = Addons([first, AdmitRaising(), second, third])
    with caplog.at_level(logging.ERROR, logger="traceforge.proxy"):
        admission = addons.admit(object(), object(), object())  # type: ignore[arg-type]
    assert admission == Admission((("X-A", "1"), ("X-B", "2")), refusal)
    assert third.asked == 0
    assert "addon hook admit failed" in caplog.text
    assert Addons([first]).admit(object(), object(), object()) == Admission((("X-A", "1"),))  # type: ignore[arg-type]
    assert not Addons([OnlySaved()]).has("admit")
