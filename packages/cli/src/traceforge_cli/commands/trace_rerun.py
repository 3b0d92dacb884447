"""``traceforge trace rerun ID``: send a recorded request again through the running proxy
(so the new call is a trace too), optionally to another model or edited in ``$EDITOR``, and
show the new answer and its diff against the original."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click
import msgspec

from traceforge_cli import context
from traceforge_cli.commands.trace import proxy_url
from traceforge_cli.commands.trace_diff import differs, echo_diff, load
from traceforge_cli.context import home_option
from traceforge_cli.snippets import Call, SnippetError, call_for
from traceforge_shared.diff import diff_traces
from traceforge_shared.store import StoreError
from traceforge_shared.trace import Trace, response_text

#: The proxy's response header naming the trace it recorded (``traceforge_proxy.server``).
TRACE_ID_HEADER = "X-TraceForge-Trace-Id"

#: Seconds allowed for the call (streams included) and for its trace to reach the store.
CALL_TIMEOUT_S, SAVE_TIMEOUT_S = 300.0, 10.0


def _edit(body: dict[str, Any]) -> dict[str, Any]:
    """Open ``body`` as JSON in ``$EDITOR`` (``click.edit``); the edited object.

    Raises:
        click.ClickException: the editor was closed without saving, or the result is not a
            JSON object.
    """
    text = click.edit(json.dumps(body, indent=2, ensure_ascii=False) + "\n", extension=".json")
    if text is None:
        raise click.ClickException("request not saved in the editor; nothing sent")
    try:
        edited = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"edited request is not valid JSON: line {exc.lineno}: {exc.msg}"
        ) from exc
    if not isinstance(edited, dict):
        raise click.ClickException("edited request must be a JSON object")
    return edited


def _headers(call: Call) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **dict(call.headers)}
    key = os.environ.get(call.key_env) if call.key_env else None
    if key and call.key_header == "bearer":
        headers["Authorization"] = f"Bearer {key}"
    elif key and call.key_header:
        headers[call.key_header] = key
    return headers


def _send(call: Call, body: dict[str, Any]) -> str:
    """POST ``body`` to the proxy; the id of the trace it recorded.

    Raises:
        click.ClickException: no proxy answers (says to run ``traceforge start``), or the
            answer names no trace (not a TraceForge proxy).
    """
    import httpx

    try:
        with httpx.Client(timeout=CALL_TIMEOUT_S) as client:
            response = client.post(call.url, json=body, headers=_headers(call))
    except httpx.ConnectError as exc:
        raise click.ClickException(
            f"no proxy answers at {call.base_url}: run `traceforge start` (proxy.port in "
            "config.yaml sets the port), then rerun"
        ) from exc
    except httpx.HTTPError as exc:
        raise click.ClickException(f"the call to {call.url} failed: {exc}") from exc
    trace_id = response.headers.get(TRACE_ID_HEADER)
    if not trace_id:
        raise click.ClickException(
            f"{call.url} answered HTTP {response.status_code} without an {TRACE_ID_HEADER} "
            "header: is a TraceForge proxy listening there?"
        )
    return str(trace_id)


def _saved(trace_id: str) -> Trace:
    """The trace ``trace_id`` once the proxy's writer has saved it.

    Raises:
        click.ClickException: not in the store within :data:`SAVE_TIMEOUT_S` (the proxy
            saves into another home than this command reads: pass the same --home).
    """
    store = context.store()
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while True:
        try:
            return store.get(trace_id)
        except StoreError:
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"the proxy recorded trace {trace_id} but it is not in {store.traces_dir}; "
                    "is the proxy saving to another home (--home, $TRACEFORGE_HOME)?"
                ) from None
            time.sleep(0.05)


@click.command("rerun")
@home_option
@click.argument("trace_id", metavar="ID")
@click.option("--model", help="Send to this model instead of the recorded one.")
@click.option("--edit", is_flag=True, help="Edit the request JSON in $EDITOR before sending.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"trace": new trace, "diff": comparison with the original} as JSON.',
)
def rerun(trace_id: str, model: str | None, edit: bool, as_json: bool) -> None:
    """Send a recorded request again (optionally edited or to another model) and diff the
    answers.

    The request goes through the running proxy (`traceforge start`; proxy.host and
    proxy.port of config.yaml), so the new call is recorded as a trace. The key, if the
    provider needs one, is read from its environment variable ($OPENAI_API_KEY, ...). Prints
    the new answer and what differs from the original (exit 0 either way).
    """
    original = load(trace_id)
    try:
        call = call_for(original, proxy_url=proxy_url())
    except SnippetError as exc:
        raise click.ClickException(str(exc)) from exc
    body = dict(call.body)
    if model is not None:
        if "model" not in body:
            raise click.UsageError(
                f"the request of {original.id[:8]} names no model (it is in the URL); use --edit"
            )
        body["model"] = model
    if edit:
        body = _edit(body)
    new = _saved(_send(call, body))
    result = diff_traces(original, new)
    if as_json:
        payload = {"trace": new, "diff": result}
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(payload), indent=2).decode())
        sys.stdout.write("\n")
        return
    status = new.metadata.status
    click.secho(f"new trace {new.id} ({new.model or '-'}, {status})", bold=True)
    click.echo(response_text(new) or "(no answer text)")
    click.echo()
    if differs(result):
        echo_diff(result)
    else:
        click.echo("same as the original (ids, times and latencies aside)")
