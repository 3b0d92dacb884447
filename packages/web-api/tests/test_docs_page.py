"""``/docs``: the REST API's reference page renders in headless Chromium from this server
alone (the vendored Redoc bundle and ``/openapi.json``), with every non-local request
aborted and counted, and shows the API's title and its paths. Skipped where there is no
Chromium (``apt-get install chromium``) or no Playwright."""

from __future__ import annotations

import httpx
import pytest

from traceforge_web_api.headless import chromium_path, local_only_page

from .test_otlp_ingest import live_api  # noqa: F401  (the API on a real socket)

needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium at /usr/bin/chromium (apt-get install chromium) or no playwright",
)


def test_docs_page_and_script_are_served_locally(live_api: str) -> None:  # noqa: F811
    page = httpx.get(f"{live_api}/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="docs/redoc.standalone.js"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    script = httpx.get(f"{live_api}/docs/redoc.standalone.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in script.content


def test_docs_refuses_a_foreign_host(live_api: str) -> None:  # noqa: F811
    answer = httpx.get(f"{live_api}/docs", headers={"Host": "evil.example"})
    assert answer.status_code == 421


@needs_chromium
@pytest.mark.timeout(120)
def test_docs_renders_offline_in_chromium(live_api: str) -> None:  # noqa: F811
    with local_only_page() as watched:
        page = watched.page
        page.goto(f"{live_api}/docs", wait_until="load")
        page.get_by_role("heading", name="TraceForge API").first.wait_for(timeout=30_000)
        body = page.text_content("body") or ""
        assert watched.foreign == [], f"non-local requests: {watched.foreign}"
    assert "/api/health" in body
    assert "/api/tests/run" in body
    assert any(url.endswith("/openapi.json") for url in watched.requested)
    assert any(url.endswith("/docs/redoc.standalone.js") for url in watched.requested)
