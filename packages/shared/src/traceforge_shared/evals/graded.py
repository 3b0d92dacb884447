"""Model calls made by assertions: ``llm_rubric`` (a grader model) and ``similar``
(embeddings), sent through the capture proxy so each is itself a trace.

The proxy speaks OpenAI's API for every provider: a chat completion
(https://platform.openai.com/docs/api-reference/chat/create) for the grader and an embeddings
request (https://platform.openai.com/docs/api-reference/embeddings/create) for ``similar``.
Calls are synchronous (``urllib``): assertions are checked in a worker thread, never on the
proxy's event loop.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_GRADER_MODEL",
    "RUBRIC_PROMPT",
    "GraderAnswer",
    "ModelAccess",
    "ModelCallError",
    "cosine",
]

#: The grader of ``llm_rubric`` when the assertion names none.
DEFAULT_GRADER_MODEL = "gpt-4o-mini"
#: The embeddings model of ``similar`` when the assertion names none.
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
#: Header the proxy answers with: the id of the trace it recorded.
TRACE_ID_HEADER = "X-TraceForge-Trace-Id"

#: The grader's system prompt (promptfoo's rubric format: a JSON verdict).
RUBRIC_PROMPT = (
    "You grade an AI assistant's output against a rubric. Read the <Output> and the "
    "<Rubric>, then answer with only a JSON object, no other text: "
    '{"pass": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.'
)


class ModelCallError(Exception):
    """A model call made for an assertion failed (unreachable proxy, HTTP error, an answer
    that is not what the API reference says); ``str()`` is a sentence."""


@dataclass(frozen=True)
class GraderAnswer:
    """The grader's verdict.

    Attributes:
        passed: the grader's ``pass``.
        score: its ``score``, 0-1 (1 or 0 from ``pass`` when it gave none).
        reason: its ``reason``.
        trace_id: the trace of the grader's call, when the proxy recorded it.
    """

    passed: bool
    score: float
    reason: str
    trace_id: str | None


@dataclass
class ModelAccess:
    """Where assertions send model calls: the capture proxy's OpenAI base URL.

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1`` of the proxy.
        timeout_s: limit per call, seconds.
        unavailable: ``unavailable(model)`` returns why that model cannot really answer
            (``"no key for openai (OPENAI_API_KEY is not set)"``: the proxy would send it to
            the built-in mock), or ``None`` when it can.
    """

    base_url: str
    timeout_s: float = 60.0
    unavailable: Callable[[str], str | None] = field(default=lambda model: None)

    def _post(self, path: str, body: dict[str, Any]) -> tuple[Any, str | None]:
        request = urllib.request.Request(
            f"{self.base_url.rstrip('/')}/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read()), response.headers.get(TRACE_ID_HEADER)
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode("utf-8", "replace")
            raise ModelCallError(f"HTTP {error.code} from {path}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ModelCallError(f"the proxy at {self.base_url} is unreachable: {reason}") from None
        except ValueError:
            raise ModelCallError(f"the answer of {path} is not JSON") from None

    def grade(self, output: str, rubric: str, model: str, prompt: str | None) -> GraderAnswer:
        """Ask grader ``model`` whether ``output`` meets ``rubric``.

        Raises:
            ModelCallError: the call failed or the grader's answer is not the JSON verdict
                :data:`RUBRIC_PROMPT` asks for.
        """
        body = {
            "model": model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": prompt or RUBRIC_PROMPT},
                {
                    "role": "user",
                    "content": f"<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n</Rubric>",
                },
            ],
        }
        answer, trace_id = self._post("chat/completions", body)
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ModelCallError("the grader's answer has no message content") from None
        verdict = _verdict(text if isinstance(text, str) else "")
        if verdict is None:
            shown = text[:120] if isinstance(text, str) else text
            raise ModelCallError(
                f"the grader {model} did not answer with a JSON verdict (pass, score, reason); "
                f"it said {shown!r}"
            )
        passed = bool(verdict.get("pass"))
        score = verdict.get("score")
        number = float(score) if isinstance(score, int | float) else float(passed)
        reason = verdict.get("reason")
        return GraderAnswer(passed, number, str(reason or ""), trace_id)

    def embed(self, texts: list[str], model: str) -> tuple[list[list[float]], str | None]:
        """Embeddings of ``texts`` (one vector each, in order) and the call's trace id.

        Raises:
            ModelCallError: the call failed or the answer has no vectors.
        """
        answer, trace_id = self._post("embeddings", {"model": model, "input": texts})
        try:
            items = sorted(answer["data"], key=lambda item: item.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (KeyError, TypeError, ValueError):
            raise ModelCallError("the embeddings answer has no data[].embedding") from None
        if len(vectors) != len(texts):
            raise ModelCallError(f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors, trace_id


def _verdict(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text`` (a code fence or prose around it allowed)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        found = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return found if isinstance(found, dict) and "pass" in found else None


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros).

    Raises:
        ModelCallError: the vectors differ in length.
    """
    if len(a) != len(b):
        raise ModelCallError(f"embeddings of different lengths ({len(a)}, {len(b)})")
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 0.0 if norm == 0 else sum(x * y for x, y in zip(a, b, strict=True)) / norm
