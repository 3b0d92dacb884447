"""A tiny app that talks to an LLM through the TraceForge proxy.

Run `traceforge start` in another terminal, then `python examples/openai_app.py`, then
`traceforge trace list`. Without OPENAI_API_KEY the proxy answers from its mock upstream.
"""

from __future__ import annotations

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("TRACEFORGE_PROXY_URL", "http://127.0.0.1:8787/v1"),
    # The proxy passes this key through; with no key it uses $OPENAI_API_KEY of the proxy.
    api_key=os.environ.get("OPENAI_API_KEY", "sk-placeholder-for-the-mock"),
)

stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "What's the weather like in SF?"}],
    stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
