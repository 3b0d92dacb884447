"""A tool-using agent traced as one run: its turn, each tool call and each LLM call in one tree.

Run `traceforge start` in another terminal, then `python examples/agent_run.py`, then
`traceforge run show <id>` (the id is printed at the end), the TUI's runs screen or
`GET http://127.0.0.1:3001/api/runs/<id>`. Without OPENAI_API_KEY the proxy answers from its
mock upstream, which answers every request offering tools with a recorded `get_weather` tool
call: the loop then runs `--max-steps` tool rounds and asks once more without tools for the
answer (5 LLM calls, 4 tool spans by default). A real model stops as soon as it answers.

What makes it one tree (docs/sdk.md, "Tracing"):

- `traceforge.span("weather_agent", kind="agent")` is the run's root span, and
  `traceforge.span("get_weather", kind="tool")` one span per tool call under it; both are
  exported to TraceForge over OTLP (`http://127.0.0.1:3001/v1/traces`, or
  `$OTEL_EXPORTER_OTLP_ENDPOINT`);
- `traceforge.instrument(client)` makes every request carry `traceparent` (the current span)
  and `X-TraceForge-Session-Id`, so the proxy records each LLM call as a child span;
- `traceforge.session(...)` is the session of the run and of its calls.

Environment: `TRACEFORGE_PROXY_URL` (the proxy's root URL, default `http://127.0.0.1:8787`),
`OPENAI_API_KEY` (passed through; the proxy uses its own key when it has one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from openai import OpenAI, omit

import traceforge

MODEL = "gpt-4o-mini"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "state": {"type": "string", "description": "State or region, if any"},
                },
                "required": ["city"],
            },
        },
    }
]


def get_weather(city: str, state: str | None = None) -> dict[str, Any]:
    """The tool: a made-up but stable forecast (temperature in °C)."""
    place = f"{city}, {state}" if state else city
    return {"place": place, "temperature_c": 12 + len(city) % 10, "sky": "partly cloudy"}


def ask(client: OpenAI, messages: list[Any], *, tools: bool) -> dict[str, Any]:
    """One streamed chat completion; the assistant message rebuilt from its deltas."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    stream = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        stream=True,
        tools=TOOLS if tools else omit,
    )
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
            print(delta.content, end="", flush=True)
        for part in delta.tool_calls or []:
            call = calls.setdefault(
                part.index,
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = part.id or call["id"]
            if part.function is not None:
                call["function"]["name"] += part.function.name or ""
                call["function"]["arguments"] += part.function.arguments or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message


def run_agent(client: OpenAI, question: str, max_steps: int) -> str:
    """Ask, run the tools the model calls (at most ``max_steps`` rounds), return the answer."""
    messages: list[Any] = [
        {"role": "system", "content": "You answer weather questions with the get_weather tool."},
        {"role": "user", "content": question},
    ]
    for _ in range(max_steps):
        message = ask(client, messages, tools=True)
        messages.append(message)
        if not message.get("tool_calls"):
            return str(message["content"] or "")
        for call in message["tool_calls"]:
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            with traceforge.span(
                name, kind="tool", attributes={"gen_ai.tool.call.id": call["id"]}
            ) as tool_span:
                result = get_weather(**json.loads(arguments or "{}"))
                tool_span.set_attribute("tool.result", json.dumps(result))
            print(f"[tool] {name}({arguments}) -> {result}")
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)}
            )
    # Out of tool rounds: one last call without tools for the answer.
    final = ask(client, messages, tools=False)
    print()
    return str(final["content"] or "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--question", default="What's the weather like in San Francisco?")
    parser.add_argument("--session", default="user-42", help="session id (default: user-42)")
    parser.add_argument("--max-steps", type=int, default=4, help="most tool rounds (default: 4)")
    args = parser.parse_args(argv)
    proxy = os.environ.get("TRACEFORGE_PROXY_URL", "http://127.0.0.1:8787").rstrip("/")
    client = traceforge.instrument(
        OpenAI(
            base_url=proxy.removesuffix("/v1") + "/v1",
            api_key=os.environ.get("OPENAI_API_KEY", "sk-placeholder-for-the-mock"),
        )
    )
    with (
        client,
        traceforge.session(args.session, tags=["example"]),
        traceforge.span("weather_agent", kind="agent", question=args.question) as agent,
    ):
        answer = run_agent(client, args.question, args.max_steps)
        agent.set_attribute("answer", answer)
    run_id = format(agent.get_span_context().trace_id, "032x")
    if not traceforge.flush(10_000):
        print("warning: the spans were not all exported in 10 s", file=sys.stderr)
    print(f"run {run_id}: traceforge run show {run_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
