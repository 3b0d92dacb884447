"""Exchange events decide the trace's status and error; to_trace reads no clock."""

from __future__ import annotations

import time

import msgspec
import pytest

from traceforge_proxy.exchange import Exchange
from traceforge_proxy.plan import ForwardingPlan, Target, proxy_error
from traceforge_proxy.providers import adapter_for
from traceforge_proxy.relay import start_relay

MS = 1_000_000


#: An exchange's identity (the proxy's handler fills it from the request).
IDENTITY = {
    "trace_id": "cd" * 12,
    "timestamp": "2026-11-23T00:00:00.000000Z",
    "started_ns": 0,
    "method": "POST",
    "endpoint": "/v1/chat/completions",
    "provider": "openai",
    "chunk_cap": 100,
}


def _exchange(body: object = None) -> Exchange:
    body = {"model": "gpt-4o"} if body is None else body
    return Exchange(**IDENTITY, request_body=msgspec.json.encode(body), request_json=body)  # type: ignore[arg-type]


def _plan(target: Target | None = None, mode: str = "raw") -> ForwardingPlan:
    return ForwardingPlan(
        target or Target("openai"),
        "POST",
        "https://up.test/v1/chat/completions?x=1",
        {"Authorization": "Bearer sk-secret"},
        b"{}",
        mode,  # type: ignore[arg-type]
        stream=True,
    )


def _answered(status: int, body: object, target: Target | None = None) -> Exchange:
    exchange = _exchange()
    exchange.sending(_plan(target), 1 * MS)
    exchange.headers_received(status, [("Content-Type", "application/json")], 3 * MS, 1_700)
    exchange.body_received(msgspec.json.encode(body))
    exchange.end(4 * MS)
    return exchange


def test_success_records_plan_times_and_redacted_headers() -> None:
    trace = _answered(
        200, {"id": "c", "model": "gpt-4o-2024", "usage": {"prompt_tokens": 2}}
    ).to_trace()
    meta = trace.metadata
    assert (meta.status, meta.status_code, meta.error) == ("success", 200, None)
    assert meta.latency_ms == 4.0 and meta.upstream_url == "https://up.test/v1/chat/completions"
    assert meta.request_headers == {"authorization": "[REDACTED]"}
    assert meta.redacted_fields == ["metadata.request_headers.authorization: header"]
    assert trace.response_model == "gpt-4o-2024" and meta.usage is not None


@pytest.mark.parametrize(
    ("status", "body", "error_type", "message"),
    [
        (
            401,
            {
                "error": {
                    "message": "bad key",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
            "invalid_api_key",
            "bad key",
        ),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "overloaded_error",
            "Overloaded",
        ),
        (
            429,
            {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}},
            "RESOURCE_EXHAUSTED",
            "quota",
        ),
        (404, {"error": "model 'x' not found"}, "http_404", "model 'x' not found"),
        (400, {"message": "invalid request: bad"}, "http_400", "invalid request: bad"),
        (500, "oops", "http_500", "oops"),
    ],
)
def test_upstream_error_bodies_of_each_provider_shape(
    status: int, body: object, error_type: str, message: str
) -> None:
    meta = _answered(status, body).to_trace().metadata
    assert meta.status == "error" and meta.status_code == status
    assert meta.error is not None and (meta.error.type, meta.error.message) == (error_type, message)


def test_passthrough_error_is_read_from_the_native_body() -> None:
    target = Target("anthropic", "c", "passthrough", adapter_for("anthropic"), "/v1/messages")
    body = {"type": "error", "error": {"type": "authentication_error", "message": "no"}}
    meta = _answered(401, body, target).to_trace().metadata
    assert meta.error is not None and meta.error.type == "authentication_error"


def test_upstream_unreachable_and_timeout_before_headers_are_the_proxys_answer() -> None:
    exchange = _exchange()
    exchange.sending(_plan(), MS)
    exchange.upstream_failed("failed", "connection refused", 2 * MS)
    assert exchange.failed and exchange.status_code == 502
    assert exchange.response_body is not None
    assert msgspec.json.decode(exchange.response_body)["error"]["code"] == "upstream_unreachable"
    meta = exchange.to_trace().metadata
    assert (meta.status, meta.error.type if meta.error else None) == (
        "upstream_error",
        "upstream_unreachable",
    )
    assert meta.error is not None and "connection refused" in meta.error.message
    timed_out = _exchange()
    timed_out.sending(_plan(), MS)
    timed_out.upstream_failed("timeout", "", 2 * MS)
    assert timed_out.status_code == 504
    assert timed_out.error is not None and timed_out.error.type == "upstream_timeout"
    assert "did not answer" in timed_out.error.message


def test_upstream_failing_while_sending_its_body() -> None:
    exchange = _exchange()
    exchange.sending(_plan(), MS)
    exchange.headers_received(200, [], 2 * MS, 0)
    exchange.upstream_failed("failed", "reset", 3 * MS)
    assert exchange.status_code == 502
    assert exchange.error is not None and exchange.error.type == "upstream_disconnected"


def _streaming(target: Target | None = None, mode: str = "raw") -> tuple[Exchange, object]:
    exchange = _exchange()
    plan = _plan(target, mode)
    exchange.sending(plan, MS)
    exchange.headers_received(200, [("Content-Type", "text/event-stream")], 2 * MS, 0)
    return exchange, start_relay(plan, exchange, "sse", 200, 0)


def test_upstream_broke_mid_stream_keeps_the_upstream_status() -> None:
    exchange, relay = _streaming()
    relay.feed(b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n', 3 * MS)  # type: ignore[attr-defined]
    exchange.upstream_failed("timeout", "", 4 * MS)
    meta = exchange.to_trace().metadata
    assert meta.status_code == 200 and meta.status == "upstream_error"
    assert meta.error is not None and meta.error.type == "upstream_timeout"
    assert meta.error.message.startswith("upstream stream broke off after 1 chunks")


def test_client_gone_before_and_after_headers_and_after_the_end() -> None:
    before = _exchange()
    before.client_gone(MS)
    assert before.error is not None and "before the answer was complete" in before.error.message
    mid, _ = _streaming()
    mid.client_gone(3 * MS, "Cannot write to closing transport")
    meta = mid.to_trace().metadata
    assert meta.status == "client_disconnected" and meta.status_code == 200
    assert meta.error is not None and meta.error.message.endswith(
        "mid-stream: Cannot write to closing transport"
    )
    done, _ = _streaming()
    done.end(3 * MS)
    done.client_gone(4 * MS, "late")
    assert not done.failed and done.to_trace().metadata.status == "success"


def test_converter_error_mid_stream() -> None:
    target = Target("anthropic", "c", "converted", adapter_for("anthropic"), "/v1/messages")
    exchange, relay = _streaming(target, "convert")
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    event = b"event: error\ndata: " + msgspec.json.encode(error) + b"\n\n"
    relay.feed(event, 3 * MS)  # type: ignore[attr-defined]
    meta = exchange.to_trace().metadata
    assert meta.status == "error" and meta.error is not None and meta.error.type == "overloaded"
    assert not exchange.failed  # a whole answer reached the client: the provider's error


def test_proxy_answer_records_its_failure_and_target() -> None:
    exchange = _exchange()
    exchange.answer(proxy_error(404, "unknown_provider", "no such", target=Target("xai", "g")))
    trace = exchange.to_trace()
    assert (trace.provider, trace.model, trace.metadata.status_code) == ("xai", "g", 404)
    assert trace.metadata.error is not None and trace.metadata.error.type == "unknown_provider"
    assert trace.response == {
        "error": {
            "message": "no such",
            "type": "traceforge_proxy_error",
            "param": None,
            "code": "unknown_provider",
        }
    }


def test_to_trace_reads_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    target = Target("anthropic", "c", "passthrough", adapter_for("anthropic"), "/v1/messages")
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "c",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    exchange = _answered(200, message, target)
    unended = _exchange()

    def no_clock(*_: object) -> float:
        raise AssertionError("to_trace read the clock")

    for name in ("time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns"):
        monkeypatch.setattr(time, name, no_clock)
    trace = exchange.to_trace()
    assert isinstance(trace.response, dict) and trace.response["created"] == 1_700
    assert unended.to_trace().metadata.latency_ms == 0.0
