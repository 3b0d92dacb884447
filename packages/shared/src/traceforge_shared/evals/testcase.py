"""LLM regression test files: ``.ai-tests/tests/*.yaml`` read into typed structs.

A test holds an OpenAI chat completion ``request`` and ``assertions`` on the answer::

    name: "Quantum Computing Query"
    description: "..."
    tags: [smoke, gpt4]
    request: {model: gpt-4o, messages: [{role: user, content: "..."}], temperature: 0.7}
    assertions:
      - {type: contains, field: "response.choices[0].message.content", value: quantum}
      - {type: latency, max_ms: 2000}

Assertions are a tagged union on ``type`` (msgspec). Aliases users know from other tools are
accepted and mapped to one canonical type (:data:`TYPE_ALIASES`). A ``field`` is a path into
the trace of the run (``response.choices[0].message.content`` is the default: the answer
text; streaming runs use the rebuilt response); see :func:`traceforge_shared.evals.fields`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec

#: The answer text of a chat completion trace.
DEFAULT_FIELD = "response.choices[0].message.content"

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0.0)]

#: Operators of ``json_path``.
Operator = Literal["==", "!=", "<", "<=", ">", ">=", "contains"]


class _Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    """Fields every assertion has.

    Attributes:
        field: path into the run's trace the assertion reads (default: the answer text).
        description: why the assertion exists, shown with its result.
        negate: passes when the check fails (written ``type: not-<type>`` too). A check that
            cannot run (missing usage, invalid pattern) fails either way.
    """

    field: str = DEFAULT_FIELD
    description: str | None = None
    negate: bool = False


class Exact(_Base, tag="exact"):
    """The field equals ``value`` exactly."""

    value: str


class Contains(_Base, tag="contains"):
    """The field contains ``value`` (case-sensitive)."""

    value: str


class IContains(_Base, tag="icontains"):
    """The field contains ``value``, ignoring case."""

    value: str


class NotContains(_Base, tag="not_contains"):
    """The field does not contain ``value`` (case-sensitive)."""

    value: str


class ContainsAny(_Base, tag="contains_any"):
    """The field contains at least one of ``values``."""

    values: list[str]
    case_sensitive: bool = True


class ContainsAll(_Base, tag="contains_all"):
    """The field contains every one of ``values``."""

    values: list[str]
    case_sensitive: bool = True


class StartsWith(_Base, tag="starts_with"):
    """The field starts with ``value``."""

    value: str


class Regex(_Base, tag="regex"):
    """The field matches the Python regular expression ``pattern`` (``re.search``)."""

    pattern: str


class IsJson(_Base, tag="is_json"):
    """The field is valid JSON text."""


class JsonSchema(_Base, tag="json_schema"):
    """The field, parsed as JSON (or already JSON), is valid against ``schema`` (JSON Schema,
    checked with the ``jsonschema`` library)."""

    schema: dict[str, Any]


class JsonPath(_Base, tag="json_path"):
    """The value at JSONPath ``path`` (RFC 9535) of the field, parsed as JSON, compares to
    ``value`` with ``operator`` (``contains``: substring or list member)."""

    path: str
    value: Any = None
    operator: Operator = "=="


class Fuzzy(_Base, tag="fuzzy"):
    """The field is similar to ``value``: rapidfuzz ``fuzz.ratio`` / 100 >= ``threshold``."""

    value: str
    threshold: Probability = 0.8


class TokenCount(_Base, tag="token_count"):
    """Token usage within bounds. ``count``: ``completion`` (default), ``prompt`` or
    ``total`` tokens, as the provider reported them."""

    min: NonNegativeInt | None = None
    max: NonNegativeInt | None = None
    count: Literal["completion", "prompt", "total"] = "completion"


class Latency(_Base, tag="latency"):
    """The call took at most ``max_ms`` milliseconds (the trace's ``latency_ms``)."""

    max_ms: NonNegativeFloat


class Cost(_Base, tag="cost"):
    """The call cost at most ``max_usd`` US dollars (from the trace's usage and model)."""

    max_usd: NonNegativeFloat


class FinishReason(_Base, tag="finish_reason"):
    """The first choice's ``finish_reason`` is ``value`` (``stop``, ``length``,
    ``tool_calls``, ``content_filter``)."""

    value: str


class ToolCall(_Base, tag="tool_call"):
    """A tool named ``name`` was called; with ``arguments``, each given argument has that
    value (other arguments may be present)."""

    name: str
    arguments: dict[str, Any] | None = None


class Python(_Base, tag="python"):
    """The Python expression ``value`` is true for the answer. It sees ``output`` (the answer
    text), ``response`` (the chat completion), ``request``, ``usage`` and the modules ``json``,
    ``re`` and ``math``; it may return a bool, a number (passes when >= ``threshold``) or a
    mapping ``{pass, score, reason}``. Runs in a separate Python process with a few builtins
    and a ``timeout_s`` limit: a guard against mistakes, not a security boundary."""

    value: str
    threshold: Probability = 0.5
    timeout_s: Annotated[float, msgspec.Meta(gt=0.0, le=60.0)] = 5.0


class LlmRubric(_Base, tag="llm_rubric"):
    """A grader model judges the answer against the rubric ``value``, through the capture
    proxy (its call is a trace too). ``model``: the grader (default ``gpt-4o-mini``);
    ``prompt``: its system prompt (default: :data:`traceforge_shared.evals.graded.RUBRIC_PROMPT`);
    passes when the grader says pass and its score (0-1) >= ``threshold``."""

    value: str
    model: str | None = None
    prompt: str | None = None
    threshold: Probability = 0.5


class Similar(_Base, tag="similar"):
    """The field means the same as ``value``: cosine similarity of their embeddings (the
    proxy's ``/v1/embeddings``, ``model`` default ``text-embedding-3-small``) >= ``threshold``;
    offline or without an embeddings key, rapidfuzz ``fuzz.ratio`` / 100 instead (the result
    says which)."""

    value: str
    threshold: Probability = 0.75
    model: str | None = None


class ValidToolsCall(_Base, tag="is_valid_openai_tools_call"):
    """Every tool call of the answer names a tool of the request's ``tools`` and its
    arguments are JSON valid against that tool's ``parameters`` schema (``jsonschema``)."""


class _RunBased(_Base, forbid_unknown_fields=False):
    """Checks a run (several spans of an agent), not one call: runs are not recorded yet, so
    the assertion is reported as skipped."""

    value: Any = None


class ToolSequence(_RunBased, tag="tool_sequence"):
    """The tools of a run were called in the order ``value`` (skipped: needs runs)."""


class SpanCount(_RunBased, tag="span_count"):
    """A run has a number of spans within bounds (skipped: needs runs)."""


class MaxCost(_RunBased, tag="max_cost"):
    """A whole run cost at most ``value`` USD (skipped: needs runs)."""


Assertion = (
    Exact
    | Contains
    | IContains
    | NotContains
    | ContainsAny
    | ContainsAll
    | StartsWith
    | Regex
    | IsJson
    | JsonSchema
    | JsonPath
    | Fuzzy
    | TokenCount
    | Latency
    | Cost
    | FinishReason
    | ToolCall
    | Python
    | LlmRubric
    | Similar
    | ValidToolsCall
    | ToolSequence
    | SpanCount
    | MaxCost
)

#: Assertion types that check a run (several spans), reported as skipped until runs exist.
RUN_BASED_TYPES = frozenset({"tool_sequence", "span_count", "max_cost"})

#: Other names accepted for ``type`` → the canonical one.
TYPE_ALIASES = {
    "fuzzy_match": "fuzzy",
    "tokens": "token_count",
    "response_time": "latency",
    "equals": "exact",
    "not-contains": "not_contains",
    "jsonpath": "json_path",
}
for _cls in get_args(Assertion):  # promptfoo's spelling of every type: llm-rubric, ...
    _tag: str = _cls.__struct_config__.tag
    if "_" in _tag:
        TYPE_ALIASES.setdefault(_tag.replace("_", "-"), _tag)


class TestCase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One test file.

    Attributes:
        name: shown in results and JUnit reports.
        request: the OpenAI chat completion request body sent (``model``, ``messages``, ...);
            the proxy routes it to the provider by model.
        assertions: checked against the trace of the run, in order; all must pass.
        description: what the test guards.
        tags: for ``test run --tag``.
        source_trace: id of the trace the test was made from (``create-from-trace``); replay
            serves that recording first.
        fixtures: named values the test reuses: a string ``{{ fixtures.<name> }}`` anywhere
            in ``request`` or ``assertions`` is replaced by the value when the file is loaded
            (a whole-string reference by the value itself, so a message or a list of messages
            can be shared; a list referenced as a list item is spliced in).
        models: run the test once per model (``request.model`` replaced), with a comparison
            table of pass/fail, latency, tokens and cost per model.
    """

    __test__ = False  # not a pytest test class

    name: str
    request: dict[str, Any]
    assertions: list[Assertion] = msgspec.field(default_factory=list)
    description: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    source_trace: str | None = None
    fixtures: dict[str, Any] = msgspec.field(default_factory=dict)
    models: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.request.get("model"), str):
            raise ValueError("request.model: a model name is required")
        if not isinstance(self.request.get("messages"), list):
            raise ValueError("request.messages: a list of messages is required")


class AssertionResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The outcome of one assertion.

    Attributes:
        type: canonical assertion type.
        passed: whether it held.
        message: a sentence a person can act on (expected, actual, score).
        description: the assertion's own description, if any.
        score: similarity for ``fuzzy`` and ``similar``, the grade of ``llm_rubric`` (0-1),
            when computed.
        skipped: the assertion was not checked (run-based types); ``passed`` is then true.
    """

    type: str
    passed: bool
    message: str
    description: str | None = None
    score: float | None = None
    skipped: bool = False


#: Outcomes of a test: every assertion passed, one failed, or the test could not run (the
#: request failed, the file is invalid, no recording to replay).
TEST_STATUSES = ("passed", "failed", "error")


class TestResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The outcome of one test in a run.

    Attributes:
        name: the test's name (or the file name when the file could not be read).
        file: the test file.
        status: one of :data:`TEST_STATUSES`.
        duration_ms: wall time of the test, ms.
        assertions: each assertion's result.
        error: why the test could not run (``status == "error"``).
        trace_id: the trace of the run (proxied runs; the recording for replays).
        tags: the test's tags.
        model: the model asked for (``request.model``; one result per model of ``models``).
        latency_ms: the call's latency, ms, when it answered.
        total_tokens: prompt + completion tokens, when reported.
        cost_usd: the call's cost, US dollars, when known.
    """

    __test__ = False

    name: str
    file: str
    status: str
    duration_ms: float = 0.0
    assertions: list[AssertionResult] = msgspec.field(default_factory=list)
    error: str | None = None
    trace_id: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    model: str | None = None
    latency_ms: float | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None


class TestRun(msgspec.Struct, kw_only=True):
    """A whole ``test run``: its results and totals.

    Attributes:
        id: run id, sortable by time (``20261123T101500-3f9a1c``).
        started: ISO 8601 UTC start time.
        duration_ms: wall time of the run, ms.
        mode: ``proxy`` (through the capture proxy, recorded), ``direct`` (to the providers,
            not recorded) or ``replay`` (offline, from recorded traces).
        results: one per test, in file order.
    """

    __test__ = False

    id: str
    started: str
    duration_ms: float
    mode: str
    results: list[TestResult] = msgspec.field(default_factory=list)

    @property
    def passed(self) -> int:
        """Tests whose assertions all passed."""
        return sum(r.status == "passed" for r in self.results)

    @property
    def failed(self) -> int:
        """Tests with a failed assertion."""
        return sum(r.status == "failed" for r in self.results)

    @property
    def errors(self) -> int:
        """Tests that could not run."""
        return sum(r.status == "error" for r in self.results)
