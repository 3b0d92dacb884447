"""The assertion types users bring from promptfoo: ``not-`` on every type, ``python``,
``llm_rubric``, ``similar``, ``is_valid_openai_tools_call`` and the run-based ones (skipped).

Model-graded types call a local fake OpenAI server (chat completions and embeddings, shaped as
https://platform.openai.com/docs/api-reference) over real HTTP; the CLI tests send the same
calls through the capture proxy."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from traceforge_shared.evals import evaluate
from traceforge_shared.evals.graded import ModelAccess
from traceforge_shared.evals.loader import load_test_text
from traceforge_shared.evals.testcase import Assertion, Regex
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

ANSWER = "The capital of France is Paris."


def _assertion(text: str) -> Assertion:
    """One assertion as a test file would hold it (through the loader and its aliases)."""
    doc = f"name: t\nrequest: {{model: m, messages: []}}\nassertions:\n  - {text}\n"
    (assertion,) = load_test_text(doc, Path("t.yaml")).assertions
    return assertion


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]


def _tool_trace(name: str, arguments: str) -> Trace:
    trace = make_trace(text="")
    response = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    ],
                },
            }
        ],
    }
    request = {**trace.request, "tools": TOOLS}
    return msgspec.structs.replace(trace, request=request, response=response)


# --- not- -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "passes"),
    [
        ("{type: not-icontains, value: paris}", False),
        ("{type: not-icontains, value: London}", True),
        ("{type: not-regex, pattern: '\\d+'}", True),
        ("{type: not-starts_with, value: The}", False),
        ("{type: not-equals, value: 'The capital of France is Paris.'}", False),
        ("{type: not-fuzzy, value: 'something else entirely', threshold: 0.9}", True),
        ("{type: not-is-json}", True),
    ],
)
def test_not_prefix_inverts_every_type(written: str, passes: bool) -> None:
    result = evaluate(_assertion(written), make_trace(text=ANSWER))
    assert result.passed is passes, result.message
    assert result.type.startswith("not-") and "negated" in result.message


def test_not_does_not_turn_a_check_that_cannot_run_into_a_pass() -> None:
    # the loader refuses a bad pattern; a struct built in code still must not pass negated
    bad_pattern = evaluate(Regex(pattern="(", negate=True), make_trace())
    assert not bad_pattern.passed and "invalid regular expression" in bad_pattern.message
    trace = msgspec.structs.replace(
        make_trace(), metadata=msgspec.structs.replace(make_trace().metadata, usage=None)
    )
    no_usage = evaluate(_assertion("{type: not-token_count, max: 1}"), trace)
    assert not no_usage.passed and "no token usage" in no_usage.message


# --- python -----------------------------------------------------------------------------------


def test_python_expression_passes_and_fails() -> None:
    trace = make_trace(text=ANSWER, completion_tokens=7)
    ok = evaluate(
        _assertion("{type: python, value: \"'Paris' in output and len(output) < 80\"}"), trace
    )
    assert ok.passed, ok.message
    usage = evaluate(
        _assertion("{type: python, value: \"usage['completion_tokens'] > 100\"}"), trace
    )
    assert not usage.passed and "false" in usage.message
    score = evaluate(_assertion("{type: python, value: '0.3', threshold: 0.5}"), trace)
    assert not score.passed and score.score == 0.3
    verdict = evaluate(
        _assertion("{type: python, value: \"{'pass': True, 'reason': 'named the city'}\"}"), trace
    )
    assert verdict.passed and "named the city" in verdict.message
    negated = evaluate(_assertion("{type: not-python, value: \"'Paris' in output\"}"), trace)
    assert not negated.passed


def test_python_has_no_open_or_import_and_a_time_limit() -> None:
    trace = make_trace(text=ANSWER)
    opened = evaluate(_assertion("{type: python, value: \"open('/etc/passwd').read()\"}"), trace)
    assert not opened.passed and "NameError" in opened.message
    imported = evaluate(_assertion("{type: python, value: \"__import__('os').getcwd()\"}"), trace)
    assert not imported.passed and "NameError" in imported.message
    endless = evaluate(
        _assertion("{type: python, value: 'sum(range(10**12))', timeout_s: 0.5}"), trace
    )
    assert not endless.passed and "timed out after 0.5 s" in endless.message
    syntax = evaluate(_assertion("{type: python, value: 'output ==='}"), trace)
    assert not syntax.passed and "invalid expression" in syntax.message


# --- is_valid_openai_tools_call -----------------------------------------------------------------


def test_valid_tools_call() -> None:
    check = _assertion("{type: is-valid-openai-tools-call}")
    good = evaluate(check, _tool_trace("get_weather", '{"city": "Paris", "days": 2}'))
    assert good.passed and "get_weather" in good.message
    unknown = evaluate(check, _tool_trace("get_time", '{"city": "Paris"}'))
    assert not unknown.passed and "'get_time' is not in the request" in unknown.message
    wrong = evaluate(check, _tool_trace("get_weather", '{"days": "two"}'))
    assert not wrong.passed and "'city' is a required property" in wrong.message
    not_json = evaluate(check, _tool_trace("get_weather", '{"city": '))
    assert not not_json.passed and "not JSON" in not_json.message
    none = evaluate(check, make_trace(text=ANSWER))
    assert not none.passed and "there were none" in none.message
    assert evaluate(_assertion("{type: not-is-valid-openai-tools-call}"), none_trace()).passed


def none_trace() -> Trace:
    return make_trace(text=ANSWER)


# --- run-based ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tool-sequence", "span-count", "max-cost"])
def test_run_based_types_are_skipped_and_say_so(kind: str) -> None:
    result = evaluate(_assertion(f"{{type: {kind}, value: 3}}"), make_trace())
    assert result.skipped and result.passed
    assert "skipped" in result.message and "runs are not recorded" in result.message


# --- llm_rubric and similar ---------------------------------------------------------------------


class _FakeModels:
    """An OpenAI-shaped server: the grader says ``verdict``; embeddings are ``vectors``."""

    def __init__(self) -> None:
        self.verdict: Any = {"pass": True, "score": 0.9, "reason": "it names Paris"}
        self.vectors: list[list[float]] = [[1.0, 0.0], [0.8, 0.6]]
        self.bodies: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.bodies.append(body)
                if self.path.endswith("/embeddings"):
                    answer: dict[str, Any] = {
                        "object": "list",
                        "data": [
                            {"object": "embedding", "index": i, "embedding": v}
                            for i, v in enumerate(fake.vectors)
                        ],
                    }
                else:
                    content = (
                        fake.verdict if isinstance(fake.verdict, str) else json.dumps(fake.verdict)
                    )
                    answer = {
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                    }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def models() -> Iterator[_FakeModels]:
    fake = _FakeModels()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_llm_rubric_passes_and_fails_on_the_graders_verdict(models: _FakeModels) -> None:
    access = ModelAccess(models.url)
    rubric = _assertion("{type: llm-rubric, value: Names the capital, model: gpt-4o}")
    trace = make_trace(text=ANSWER)
    passed = evaluate(rubric, trace, access)
    assert passed.passed and passed.score == 0.9 and "it names Paris" in passed.message
    sent = models.bodies[-1]
    assert sent["model"] == "gpt-4o"
    assert ANSWER in sent["messages"][1]["content"]
    assert "Names the capital" in sent["messages"][1]["content"]

    models.verdict = {"pass": False, "score": 0.1, "reason": "no capital"}
    failed = evaluate(rubric, trace, access)
    assert not failed.passed and "said fail" in failed.message
    assert evaluate(_assertion("{type: not-llm-rubric, value: x}"), trace, access).passed

    models.verdict = "I think it is fine."
    prose = evaluate(rubric, trace, access)
    assert not prose.passed and "did not answer with a JSON verdict" in prose.message


def test_llm_rubric_without_a_proxy_or_key_says_why(models: _FakeModels) -> None:
    rubric = _assertion("{type: llm-rubric, value: Names the capital}")
    offline = evaluate(rubric, make_trace(text=ANSWER))
    assert not offline.passed and "--replay and --direct" in offline.message
    no_key = ModelAccess(models.url, unavailable=lambda model: "no key for openai")
    keyless = evaluate(rubric, make_trace(text=ANSWER), no_key)
    assert not keyless.passed and "no key for openai" in keyless.message
    negated = evaluate(_assertion("{type: not-llm-rubric, value: x}"), make_trace(), no_key)
    assert not negated.passed  # a grader that cannot answer is never a pass
    unreachable = evaluate(rubric, make_trace(), ModelAccess("http://127.0.0.1:9/v1", timeout_s=5))
    assert not unreachable.passed and "unreachable" in unreachable.message


def test_similar_uses_embeddings_when_reachable_else_rapidfuzz(models: _FakeModels) -> None:
    similar = _assertion("{type: similar, value: Paris is France's capital, threshold: 0.75}")
    trace = make_trace(text=ANSWER)
    embedded = evaluate(similar, trace, ModelAccess(models.url))
    assert embedded.passed and embedded.score == pytest.approx(0.8)
    assert "cosine of text-embedding-3-small embeddings" in embedded.message
    assert models.bodies[-1]["input"] == ["Paris is France's capital", ANSWER]

    models.vectors = [[1.0, 0.0], [0.0, 1.0]]
    orthogonal = evaluate(similar, trace, ModelAccess(models.url))
    assert not orthogonal.passed and orthogonal.score == pytest.approx(0.0)

    offline = evaluate(similar, trace)
    assert "rapidfuzz ratio (no proxy in this run)" in offline.message
    assert offline.score is not None and 0 < offline.score < 0.75 and not offline.passed
    close = _assertion("{type: similar, value: 'The capital of France is Paris!'}")
    assert evaluate(close, trace).passed
    keyless = evaluate(close, trace, ModelAccess(models.url, unavailable=lambda m: "no key"))
    assert keyless.passed and "unavailable: no key" in keyless.message
