"""``traceforge start --ui``: the browser UI served beside the proxy, on the proxy's home,
with the same guards and page as ``traceforge ui --web``; a call made through the proxy is
then opened by its deep link in headless Chromium (skipped without Chromium)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import openai
import pytest

from traceforge_shared.store import TraceStore
from traceforge_web_api.headless import chromium_path, local_only_page

from .test_processes import TRACEFORGE, _env
from .test_ui_web_browser import Frames, _free_port, _wait_for_text


@pytest.mark.timeout(180)
def test_start_serves_the_web_ui_beside_the_proxy(home: Path) -> None:
    ui_port = _free_port()
    command = [*TRACEFORGE, "start", "--port", "0", "--api-port", "0", "--mock-delay-ms", "0"]
    process = subprocess.Popen(
        [*command, "--ui", "--ui-port", str(ui_port)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ui = None
        for line in process.stdout:
            match = re.search(r"listening on (http://\S+/v1)", line)
            url = match.group(1) if match else url
            match = re.search(r"web UI:\s+(http://\S+)/", line)
            if match:
                ui = match.group(1)
                break
        assert url and ui == f"http://127.0.0.1:{ui_port}"
        page = httpx.get(f"{ui}/")
        assert page.status_code == 200
        assert 'src="static/js/textual.js"' in page.text
        assert "googleapis" not in page.text and "ws://" not in page.text
        assert httpx.get(f"{ui}/", headers={"Host": "evil.example"}).status_code == 421
        with openai.OpenAI(base_url=url, api_key="sk-start-ui", max_retries=0) as client:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
        store = TraceStore(home)
        deadline = time.monotonic() + 10
        while not (listed := store.list(limit=1)):
            assert time.monotonic() < deadline, "the call was not saved"
            time.sleep(0.05)
        trace_id = listed[0].id
        if chromium_path() is not None:
            with local_only_page() as watched:
                frames = Frames()
                watched.page.on("websocket", frames.attach)
                watched.page.goto(f"{ui}/?trace={trace_id}", wait_until="load")
                _wait_for_text(watched.page, frames, f"trace {trace_id}", "Conversation")
                assert watched.foreign == []
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out
