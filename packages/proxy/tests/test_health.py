"""``GET /healthz`` shows where calls go, never with the credentials written into an address."""

from __future__ import annotations

from typing import Any

from traceforge_proxy.testing import get_health


async def test_upstream_passwords_and_url_keys_are_not_shown(make_proxy: Any) -> None:
    # A password in --upstream (basic auth to a company gateway) and a key in the query.
    secret_url = "https://bob:hunter2-gateway-pass@llm.internal:8443/v1?api-key=sk-live-12345678"
    service = await make_proxy(base_url=secret_url)
    body = await get_health(service)
    text = str(body)
    assert "hunter2-gateway-pass" not in text
    assert "sk-live-12345678" not in text
    assert body["upstream"] == "https://bob:[REDACTED]@llm.internal:8443/v1?api-key=[REDACTED]"
    assert body["upstreams"]["openai"] == body["upstream"]
    assert body["status"] == "ok"


async def test_plain_upstreams_are_shown_as_they_are(make_proxy: Any) -> None:
    service = await make_proxy()  # the embedded mock
    body = await get_health(service)
    assert body["upstream"].startswith("http://127.0.0.1:")
    assert "[REDACTED]" not in str(body)
