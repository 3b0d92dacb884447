"""Client matrix, the Node ``openai`` SDK (``node/matrix.mjs``): a Chat Completions stream and a
Responses API call, streamed and not, against the mock directly and through the proxy; same
results, one trace per call with the transcript's usage. Skipped, saying why, where node or
npm is missing or ``npm ci`` cannot install the SDK (offline without a cache)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from traceforge_proxy.mock_upstream import choose_stream
from traceforge_proxy.mock_upstream.openai_responses import RESPONSE, choose_responses_stream

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node_script() -> list[str]:
    """``[node, matrix.mjs]``, after ``npm ci`` when ``node_modules`` is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not on PATH: the Node openai SDK case needs Node.js and npm")
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm ci failed in {NODE_DIR} (offline?): {done.stderr.strip()[-500:]}")
    return [node, str(NODE_DIR / "matrix.mjs")]


async def _run(script: list[str], base_url: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *script, base_url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    result: dict[str, Any] = json.loads(out)
    return result


async def test_node_openai_sdk(matrix, transcripts, node_script) -> None:  # type: ignore[no-untyped-def]
    direct = await _run(node_script, matrix.openai_base(True))
    proxied = await _run(node_script, matrix.openai_base(False))
    assert proxied == direct
    chat_usage = transcripts.openai_chat_stream_usage(choose_stream({"model": "gpt-4o"}))
    response_usage = transcripts.openai_body_usage(RESPONSE)
    streamed_usage = transcripts.responses_stream_usage(
        choose_responses_stream({"model": "gpt-4.1-nano"})
    )
    assert direct["chat_stream"]["text"] and direct["responses"]["text"]
    assert tuple(direct["chat_stream"]["usage"]) == chat_usage
    assert tuple(direct["responses"]["usage"]) == response_usage
    assert tuple(direct["responses"]["streamed_usage"]) == streamed_usage
    chat, response, streamed = await matrix.traces(3)
    for trace, model, usage in (
        (chat, "gpt-4o", chat_usage),
        (response, "gpt-4.1-nano", response_usage),
        (streamed, "gpt-4.1-nano", streamed_usage),
    ):
        matrix.check(trace, provider="openai", model=model, usage=usage)
    assert chat.endpoint == "/v1/chat/completions"
    assert response.endpoint == streamed.endpoint == "/v1/responses"
    assert streamed.metadata.streaming and not response.metadata.streaming
