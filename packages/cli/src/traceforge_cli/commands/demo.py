"""``traceforge demo``: the proxy on the built-in mock upstream, driven by the OpenAI SDK."""

from __future__ import annotations

import json
import time

import click
import openai
from openai.types.chat import ChatCompletionToolParam
from rich.console import Console

from traceforge_cli import context
from traceforge_cli.context import home_option, mock_delay_option, port_option
from traceforge_cli.render import trace_table
from traceforge_proxy.runner import BackgroundProxy, ProxyService
from traceforge_proxy.upstream import MOCK_PREFIXES, Upstream
from traceforge_shared.ids import utc_timestamp

WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
            "required": ["city", "state"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


@click.command()
@home_option
@port_option(
    "--port",
    default=0,
    help="Proxy port (0: any free port, so the demo never clashes with `start`).",
)
@mock_delay_option("--delay-ms", default=30.0)
def demo(port: int, delay_ms: float) -> None:
    """Run the proxy on the built-in mock upstream and drive it with the official OpenAI SDK.

    Makes calls through the proxy, exactly as your app would: a plain chat completion, a
    streamed one (printed token by token as it arrives), a streamed tool call, then the same
    client asking Claude, Gemini, Llama (Ollama) and Command (Cohere) models, converted by the
    proxy, a Responses API call (OpenAI, then Claude converted), an embeddings call (a
    Gemini model, converted) and a reasoning model's streamed call (xAI grok-3-mini, its
    reasoning tokens counted as output); then lists the traces
    recorded. No API key or network is needed: the mock upstream
    replays real recorded answers of each provider.
    """
    cfg = context.config()
    context.ensure_home()  # a home that cannot exist fails now, not trace by trace
    cfg.proxy.port = port
    cfg.proxy.host = "127.0.0.1"
    store = context.store()
    mocks = {
        provider: Upstream(
            provider=provider,
            base_url=None,
            api_key=None,
            inject_stream_usage=provider == "openai",
            mock=True,
        )
        for provider in MOCK_PREFIXES
    }
    console = Console(highlight=False)
    service = ProxyService(cfg, mocks, store, mock_delay_ms=delay_ms)
    started = time.time()
    try:
        proxy = BackgroundProxy(service).start()
    except OSError as exc:
        raise click.ClickException(f"cannot start the proxy: {exc}") from exc
    try:
        console.print(
            f"[bold green]TraceForge proxy[/] on {proxy.url} → mock upstreams at "
            f"{(service.upstream.base_url or '').removesuffix('/v1')}"
        )
        client = openai.OpenAI(base_url=proxy.url, api_key="sk-demo-not-a-real-key", max_retries=0)
        _run_calls(client, console)
        proxy.drain()
    except openai.OpenAIError as exc:
        raise click.ClickException(f"the demo call failed: {exc}") from exc
    finally:
        proxy.stop()
    summaries = [s for s in store.list(limit=20) if s.timestamp >= utc_timestamp(started)]
    console.print()
    console.print(f"[bold]Recorded {len(summaries)} traces[/] in {store.traces_dir}:")
    console.print(trace_table(summaries))
    if summaries:
        console.print(
            f"\nNext: [bold]traceforge trace show {summaries[0].id[:8]}[/]  "
            "(chunk timeline of the last call)"
        )


def _run_calls(client: openai.OpenAI, console: Console) -> None:
    console.print("\n[bold]1. Chat completion[/]")
    completion = client.chat.completions.create(
        model="gpt-4.1-nano",
        messages=[{"role": "user", "content": "Invent a new holiday and describe its traditions."}],
    )
    text = completion.choices[0].message.content or ""
    console.print(text[:300] + (" …" if len(text) > 300 else ""))

    console.print("\n[bold]2. Streamed chat completion[/] (tokens as they arrive)")
    stream = client.chat.completions.create(
        model="gpt-4o-2024-08-06",
        messages=[{"role": "user", "content": "What's the weather like in SF?"}],
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            console.print(chunk.choices[0].delta.content, end="")
            console.file.flush()
    console.print()

    console.print("\n[bold]3. Streamed tool call[/]")
    calls: dict[int, dict[str, str]] = {}
    tool_stream = client.chat.completions.create(
        model="gpt-4o-2024-08-06",
        messages=[{"role": "user", "content": "What's the weather like in SF?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    finish = None
    for chunk in tool_stream:
        if not chunk.choices:
            continue
        finish = chunk.choices[0].finish_reason or finish
        for call in chunk.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(call.index, {"name": "", "arguments": ""})
            if call.function and call.function.name:
                slot["name"] += call.function.name
            if call.function and call.function.arguments:
                slot["arguments"] += call.function.arguments
    for slot in calls.values():
        console.print(
            f"{slot['name']}({json.dumps(json.loads(slot['arguments']))})  "
            f"[dim]finish_reason={finish}[/]"
        )

    console.print("\n[bold]4. Other providers, same OpenAI client[/] (converted by the proxy)")
    for model in ("claude-sonnet-4-5", "gemini-2.5-flash", "llama3.2", "command-a-03-2025"):
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Say something short."}],
            stream=True,
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        text = " ".join(text.split())  # one line per model
        console.print(f"[bold]{model}[/]: {text[:100]}{' …' if len(text) > 100 else ''}")

    console.print(
        "\n[bold]5. Responses API[/] (streamed events; the same call to Claude, converted)"
    )
    for model in ("gpt-4.1-nano", "claude-sonnet-4-5"):
        with client.responses.stream(model=model, input="Say something short.") as events:
            response = events.get_final_response()
        text = " ".join(response.output_text.split())
        console.print(f"[bold]{model}[/]: {text[:100]}{' …' if len(text) > 100 else ''}")

    console.print("\n[bold]6. Embeddings[/] (a Gemini model, converted by the proxy)")
    embedded = client.embeddings.create(
        model="gemini-embedding-001", input=["Why is the sky blue?", "Why is the grass green?"]
    )
    console.print(
        f"[bold]gemini-embedding-001[/]: {len(embedded.data)} vectors of "
        f"{len(embedded.data[0].embedding)} dimensions, {embedded.usage.prompt_tokens} tokens"
    )

    console.print("\n[bold]7. A reasoning model[/] (xAI grok-3-mini, streamed)")
    usage = None
    for chunk in client.chat.completions.create(
        model="grok-3-mini",
        messages=[{"role": "user", "content": "What is 101 * 3?"}],
        stream=True,
        stream_options={"include_usage": True},
    ):
        usage = chunk.usage or usage
    details = usage.completion_tokens_details if usage is not None else None
    reasoning = (details.reasoning_tokens or 0) if details is not None else 0
    if usage is not None:
        # xAI's completion_tokens leaves the reasoning out; the trace counts it as output.
        console.print(
            f"[bold]grok-3-mini[/]: {usage.prompt_tokens} input tokens, "
            f"{usage.completion_tokens + reasoning} output tokens ({reasoning} of them reasoning)"
        )
