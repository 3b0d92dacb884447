"""Drift between two recordings of the same requests: is a re-recorded answer identical,
reworded (benign), or a regression?

Requests are paired by request key (:func:`~traceforge_shared.cassettes.key.request_key`),
in recording order among identical requests. Each pair's answers
(:func:`~traceforge_shared.cassettes.answer.summarize`) are classified:

- ``identical``: same status, text, tool calls (names and arguments) and finish reason.
- ``regression`` when any of: the status changed; the tool calls' names (or their order)
  changed; a tool call's argument names changed; the finish reason changed; a JSON answer's
  shape (its key paths) changed, or the answer turned from JSON to text or back; the length
  class (:func:`length_class`) changed; or a text answer is reworded beyond recognition
  (similarity below :data:`SIMILARITY_THRESHOLD`). A request recorded on one side only is a
  regression too (the app asked something else).
- ``benign`` otherwise: reworded text (rapidfuzz ``ratio`` >= :data:`SIMILARITY_THRESHOLD`),
  other JSON values with the same keys, other tool call argument values.

:attr:`DriftReport.exit_code` is 0 (all identical), 1 (benign only) or 2 (any regression).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from traceforge_shared.cassettes.answer import AnswerSummary, summarize
from traceforge_shared.cassettes.format import Interaction
from traceforge_shared.cassettes.key import canonical_request, key_of, request_view

#: ``identical``, ``benign`` or ``regression`` (see the module docstring).
Verdict = Literal["identical", "benign", "regression"]
#: Text similarity (rapidfuzz ``ratio`` / 100, 0 to 1) at or above which a reworded answer
#: is benign.
SIMILARITY_THRESHOLD = 0.8
#: Upper bounds (characters, exclusive) of the ``short`` and ``medium`` length classes;
#: longer answers are ``long``.
SHORT_CHARS = 200
MEDIUM_CHARS = 1000

_EXIT_CODES: dict[Verdict, int] = {"identical": 0, "benign": 1, "regression": 2}


def length_class(text: str) -> str:
    """``short`` (< :data:`SHORT_CHARS` characters), ``medium`` (< :data:`MEDIUM_CHARS`) or
    ``long``."""
    size = len(text.strip())
    return "short" if size < SHORT_CHARS else "medium" if size < MEDIUM_CHARS else "long"


def similarity(a: str, b: str) -> float:
    """rapidfuzz's normalized Indel ``ratio`` of two texts, 0 (nothing alike) to 1 (equal)."""
    from rapidfuzz import fuzz

    return float(fuzz.ratio(a, b)) / 100.0


@dataclass(frozen=True)
class Classification:
    """How one answer drifted from another.

    Attributes:
        verdict: ``identical``, ``benign`` or ``regression``.
        reasons: what changed, one phrase each (``finish reason: "stop" -> "length"``).
        similarity: the texts' similarity (0 to 1).
    """

    verdict: Verdict
    reasons: tuple[str, ...]
    similarity: float


def classify(before: AnswerSummary, after: AnswerSummary) -> Classification:
    """Classify ``after`` against ``before`` (see the module docstring)."""
    score = similarity(before.text, after.text)
    regressions: list[str] = []
    benign: list[str] = []
    if before.status != after.status:
        regressions.append(f"status: {before.status} -> {after.status}")
    names_before = [c.name for c in before.tool_calls]
    names_after = [c.name for c in after.tool_calls]
    if names_before != names_after:
        regressions.append(f"tool calls: {names_before} -> {names_after}")
    else:
        for old, new in zip(before.tool_calls, after.tool_calls, strict=True):
            if old.argument_keys != new.argument_keys:
                regressions.append(
                    f"tool call {old.name} arguments: {list(old.argument_keys)} -> "
                    f"{list(new.argument_keys)}"
                )
            elif old.arguments != new.arguments:
                benign.append(f"tool call {old.name}: other argument values")
    if before.finish_reason != after.finish_reason:
        regressions.append(
            f"finish reason: {json.dumps(before.finish_reason)} -> "
            f"{json.dumps(after.finish_reason)}"
        )
    shape_before, shape_after = json_shape(before.text), json_shape(after.text)
    if (shape_before is None) != (shape_after is None):
        was, now = ("JSON", "text") if shape_before is not None else ("text", "JSON")
        regressions.append(f"answer: {was} -> {now}")
    elif shape_before is not None and shape_after is not None and shape_before != shape_after:
        added = sorted(shape_after - shape_before)
        removed = sorted(shape_before - shape_after)
        regressions.append(f"JSON keys: added {added}, removed {removed}")
    class_before, class_after = length_class(before.text), length_class(after.text)
    if class_before != class_after:
        regressions.append(
            f"length: {class_before} -> {class_after} "
            f"({len(before.text.strip())} -> {len(after.text.strip())} chars)"
        )
    if before.text != after.text:
        if shape_before is not None and shape_before == shape_after:
            benign.append("JSON values changed, same keys")
        elif score >= SIMILARITY_THRESHOLD:
            benign.append(f"reworded (similarity {score:.2f})")
        else:
            regressions.append(f"text similarity {score:.2f} < {SIMILARITY_THRESHOLD}")
    if regressions:
        return Classification("regression", tuple(regressions + benign), score)
    if benign:
        return Classification("benign", tuple(benign), score)
    return Classification("identical", (), score)


def json_shape(text: str) -> frozenset[str] | None:
    """The key paths of ``text`` when it is a JSON object or array (``a``, ``a.b``,
    ``items[].name``), else ``None``."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    paths: set[str] = set()
    _walk(value, "", paths)
    return frozenset(paths)


def _walk(value: Any, prefix: str, paths: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.add(path)
            _walk(item, path, paths)
    elif isinstance(value, list):
        for item in value:
            _walk(item, f"{prefix}[]", paths)


@dataclass(frozen=True)
class RequestDrift:
    """One request's drift.

    Attributes:
        key: the request key (with the ignore list used).
        request: ``<provider> <model> <method> <endpoint>``.
        before: the first side's interaction (``<cassette>/<file>``), or ``None``.
        after: the second side's, or ``None``.
        verdict: see :class:`Classification`.
        reasons: what changed.
        similarity: the texts' similarity (0 to 1), ``None`` for a one-sided request.
    """

    key: str
    request: str
    before: str | None
    after: str | None
    verdict: Verdict
    reasons: tuple[str, ...]
    similarity: float | None

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (the fields above)."""
        return {
            "key": self.key,
            "request": self.request,
            "before": self.before,
            "after": self.after,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "similarity": None if self.similarity is None else round(self.similarity, 3),
        }


@dataclass(frozen=True)
class DriftReport:
    """Every request's drift, in the second side's order (requests only in the first side
    last).

    Attributes:
        entries: one :class:`RequestDrift` per request.
    """

    entries: list[RequestDrift] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """How many requests got each verdict (every verdict present, 0 when none)."""
        counts: dict[str, int] = dict.fromkeys(_EXIT_CODES, 0)
        for entry in self.entries:
            counts[entry.verdict] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 when all are identical (or there are none), 1 benign only, 2 any regression."""
        return max((_EXIT_CODES[e.verdict] for e in self.entries), default=0)

    def to_json(self) -> dict[str, Any]:
        """``{"entries": [...], "counts": {...}, "exit_code": n}``."""
        return {
            "entries": [e.to_json() for e in self.entries],
            "counts": self.counts,
            "exit_code": self.exit_code,
        }


def drift_report(
    before: Sequence[tuple[str, Interaction]],
    after: Sequence[tuple[str, Interaction]],
    ignore_fields: Iterable[str] = (),
) -> DriftReport:
    """Pair ``before`` and ``after`` (``(ref, interaction)`` lists in recording order) by
    request key and classify each pair (see the module docstring)."""
    ignore = tuple(ignore_fields)
    queues: dict[str, list[tuple[str, Interaction]]] = {}
    for ref, interaction in before:
        queues.setdefault(_key(interaction, ignore), []).append((ref, interaction))
    entries: list[RequestDrift] = []
    for ref, interaction in after:
        key = _key(interaction, ignore)
        queue = queues.get(key)
        if not queue:
            entries.append(_one_sided(key, interaction, None, ref, "first"))
            continue
        old_ref, old = queue.pop(0)
        result = classify(summarize(old), summarize(interaction))
        entries.append(
            RequestDrift(
                key=key,
                request=_label(interaction),
                before=old_ref,
                after=ref,
                verdict=result.verdict,
                reasons=result.reasons,
                similarity=result.similarity,
            )
        )
    for key, queue in queues.items():
        entries += [_one_sided(key, i, ref, None, "second") for ref, i in queue]
    return DriftReport(entries)


def _one_sided(
    key: str, interaction: Interaction, before: str | None, after: str | None, missing: str
) -> RequestDrift:
    return RequestDrift(
        key=key,
        request=_label(interaction),
        before=before,
        after=after,
        verdict="regression",
        reasons=(f"request not in the {missing} recording",),
        similarity=None,
    )


def _key(interaction: Interaction, ignore: tuple[str, ...]) -> str:
    return key_of(canonical_request(request_view(interaction.request), ignore))


def _label(interaction: Interaction) -> str:
    r = interaction.request
    return f"{r.provider} {r.model or '-'} {r.method} {r.endpoint}"
