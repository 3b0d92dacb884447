"""The redaction engine: replaces secrets and PII in a trace before it is stored.

What is redacted: the request and response bodies, the native request and response, every
stored chunk, header values (whole values of credential headers), the upstream URL, warnings
and error messages. Inside strings, values of sensitive keys written as JSON or form text are
redacted too (tool-call arguments, tool results). Streamed text is redacted across chunk
boundaries (:mod:`traceforge_shared.redact.chunks`): the pieces of one text are joined,
scanned once, and each match is replaced in the chunk where it starts (its marker there) and
cut from the chunks it runs into. So ``"sk-proj-abc"`` + ``"def123..."`` is stored as
``"[API_KEY_REDACTED]"`` + ``""``, and the concatenated deltas still equal the redacted
response text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from traceforge_shared.config import RedactionConfig
from traceforge_shared.redact.chunks import MAX_DEPTH, TOO_DEEP, redact_chunks
from traceforge_shared.redact.detectors import (
    DETECTORS,
    SENSITIVE_KEYS,
    Detector,
    credential_header,
    normalize_key,
)
from traceforge_shared.redact.keyvalues import key_value_spans
from traceforge_shared.redact.placeholders import REDACTED, is_marker, keyed
from traceforge_shared.trace import Trace

_DIGIT = re.compile(r"\d")


def _has_digit(text: str) -> bool:
    r"""Whether ``text`` holds a digit (``\d``): ten ``in`` scans (memchr speed, ~0.3 ms for
    400 KB) for ASCII text, the regex (10x slower) when other scripts' digits are possible."""
    if text.isascii():
        return any(digit in text for digit in "0123456789")
    return _DIGIT.search(text) is not None


@dataclass(frozen=True)
class Finding:
    """One match: ``kind`` at ``start:end`` of the scanned text."""

    kind: str
    start: int
    end: int
    marker: str


@dataclass
class Redaction:
    """Result of redacting one value: the kinds found per path (values never kept)."""

    fields: dict[str, set[str]] = field(default_factory=dict)

    def add(self, path: str, kind: str) -> None:
        self.fields.setdefault(path, set()).add(kind)

    def entries(self) -> list[str]:
        """``path: kind[,kind]`` strings, in path order."""
        return [f"{p}: {','.join(sorted(k))}" for p, k in sorted(self.fields.items())]


class Redactor:
    """Finds and replaces secrets and PII per a :class:`RedactionConfig`.

    Use it as the proxy's ``before_save`` hook, or call :meth:`redact_text` /
    :meth:`find` directly. Thread-safe (compiled patterns are immutable).

    Args:
        config: what to redact (defaults: everything on).
        only_secrets: only credential kinds (the pre-commit hook's default).
        key: secret of the store for deterministic markers (``config.deterministic``); when
            it is ``None`` a random key is made, so markers only match within this redactor.

    Raises:
        ValueError: a custom pattern does not compile (config loading reports it first).
    """

    def __init__(
        self,
        config: RedactionConfig | None = None,
        *,
        only_secrets: bool = False,
        key: bytes | None = None,
    ) -> None:
        config = config or RedactionConfig()
        self.config = config
        detectors: list[Detector] = [
            d
            for d in DETECTORS
            if config.kinds.get(d.kind, True) and (d.secret or not only_secrets)
        ]
        for custom in config.patterns:
            if custom.secret or not only_secrets:
                detectors.append(
                    Detector(
                        custom.name, custom.regex, f"[{custom.name.upper()}_REDACTED]", secret=True
                    )
                )
        self.detectors = tuple(detectors) if config.enabled else ()
        self.allowlist = frozenset(config.allowlist)
        self.redact_keys = config.enabled and config.kinds.get("sensitive_keys", True)
        self.redact_auth_headers = config.enabled and config.kinds.get("auth_header", True)
        self.sensitive_keys = SENSITIVE_KEYS | {normalize_key(k) for k in config.sensitive_keys}
        self._min_length = min((d.min_length for d in self.detectors), default=0)
        if self.redact_keys:
            self._min_length = min(self._min_length, 5) if self.detectors else 5
        # Detectors that need a digit run only on texts with one; the others only on texts
        # holding one of their hints, all looked for at once (one C-speed search).
        ordered = list(enumerate(self.detectors))
        self._digit_detectors = tuple((o, d) for o, d in ordered if d.digits)
        self._hinted_detectors = tuple((o, d) for o, d in ordered if not d.digits)
        hints = {h for _, d in self._hinted_detectors for h in d.hints}
        unhinted = any(not d.hints for _, d in self._hinted_detectors)
        self._hint_re = (
            None
            if unhinted or not hints
            else re.compile("|".join(re.escape(h) for h in sorted(hints, key=len, reverse=True)))
        )
        self._key_cache: dict[str, bool] = {}
        self.deterministic = config.deterministic
        self._hash_key = key if key is not None else os.urandom(32)

    # -- text ------------------------------------------------------------------------------

    def find(self, text: str) -> list[Finding]:
        """Every secret or PII match in ``text``, left to right, not overlapping (where two
        overlap, the earlier wins, then the detector listed first; values of sensitive keys
        written as JSON or form text come last)."""
        if (not self.detectors and not self.redact_keys) or len(text) < self._min_length:
            return []
        found: list[tuple[int, int, int, str, str]] = []
        candidates: list[tuple[int, Detector]] = []
        if self._hint_re is None or self._hint_re.search(text) is not None:
            candidates.extend(self._hinted_detectors)
        if self._digit_detectors and _has_digit(text):
            candidates.extend(self._digit_detectors)
        for order, detector in candidates:
            if not detector.may_match(text):
                continue
            group = detector.group
            for match in detector.finditer(text):
                start, end = match.span(group)
                if start < 0:
                    continue
                value = match.group(group)
                if value in self.allowlist:
                    continue
                if detector.validate is not None and not detector.validate(match.group()):
                    continue
                if detector.context is not None and not detector.context(text, start, end):
                    continue
                found.append((start, order, end, detector.kind, detector.marker))
        if self.redact_keys:
            order = len(self.detectors)
            for start, end, quoted in key_value_spans(text, self.sensitive):
                marker = REDACTED if quoted else f'"{REDACTED}"'
                found.append((start, order, end, "sensitive_keys", marker))
        if not found:
            return []
        found.sort(key=lambda item: (item[0], item[1]))
        out: list[Finding] = []
        last_end = -1
        for start, _, end, kind, marker in found:
            if start >= last_end:
                if self.deterministic:
                    marker = keyed(marker, text[start:end], self._hash_key)
                out.append(Finding(kind, start, end, marker))
                last_end = end
        return out

    def marker(self, marker: str, value: str) -> str:
        """``marker`` as written for ``value``: with its keyed hash when deterministic."""
        return keyed(marker, value, self._hash_key) if self.deterministic else marker

    def redact_text(self, text: str) -> tuple[str, list[str]]:
        """Return ``text`` with every match replaced by its marker, and the kinds found."""
        findings = self.find(text)
        parts: list[str] = []
        last = 0
        for f in findings:
            parts += (text[last : f.start], f.marker)
            last = f.end
        return "".join(parts) + text[last:], [f.kind for f in findings]

    # -- JSON values -----------------------------------------------------------------------

    def redact_value(self, value: Any, path: str, report: Redaction, depth: int = 0) -> Any:
        """Return a redacted copy of a decoded JSON value (containers copied only if changed).

        Values of sensitive keys become ``[REDACTED]``; strings are scanned (JSON and form
        text inside them included, see :mod:`traceforge_shared.redact.keyvalues`). A container
        nested deeper than :data:`MAX_DEPTH` (``depth`` counts the levels above ``value``) is
        replaced by :data:`TOO_DEEP` (kind ``too_deep``) rather than walked: it cannot be
        checked, so it is not stored.
        """
        if depth > MAX_DEPTH and isinstance(value, (dict, list)):
            report.add(path, "too_deep")
            return TOO_DEEP
        if isinstance(value, str):
            new, kinds = self.redact_text(value)
            for kind in kinds:
                report.add(path, kind)
            return new
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for key, item in value.items():
                child = f"{path}.{key}"
                if (
                    self.redact_keys
                    and isinstance(key, str)
                    and item not in (None, "")
                    and not isinstance(item, (dict, list, bool))
                    and self.sensitive(key)
                    and not (isinstance(item, str) and is_marker(item))
                ):
                    out[key] = self.marker(REDACTED, str(item))
                    report.add(child, "sensitive_keys")
                    changed = True
                    continue
                new = self.redact_value(item, child, report, depth + 1)
                changed = changed or new is not item
                out[key] = new
            return out if changed else value
        if isinstance(value, list):
            items = [
                self.redact_value(item, f"{path}[{i}]", report, depth + 1)
                for i, item in enumerate(value)
            ]
            if any(new is not old for new, old in zip(items, value, strict=True)):
                return items
            return value
        return value

    def redact_headers(
        self, headers: dict[str, str], path: str, report: Redaction
    ) -> dict[str, str]:
        """Redact header values: whole values of credential headers (names in the sensitive
        keys: kind ``sensitive_keys``; other names holding key, token, secret or auth: kind
        ``auth_header``), matches in the others."""
        out = {}
        for name, value in headers.items():
            child = f"{path}.{name}"
            if value and not is_marker(value):
                kind = None
                if self.redact_keys and self.sensitive(name):
                    kind = "sensitive_keys"
                elif self.redact_auth_headers and credential_header(name):
                    kind = "auth_header"
                if kind is not None:
                    out[name] = self.marker(REDACTED, value)
                    report.add(child, kind)
                    continue
            new, kinds = self.redact_text(value)
            for kind in kinds:
                report.add(child, kind)
            out[name] = new
        return out

    # -- streams ---------------------------------------------------------------------------

    def redact_stream(self, pieces: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
        """Redact consecutive pieces of one streamed text as if they were one string.

        Returns the new pieces (same count; concatenated they equal the redacted whole) and
        ``(piece index, kind)`` for each match, at the piece where the match starts.
        """
        whole = "".join(pieces)
        findings = self.find(whole)
        if not findings:
            return pieces, []
        bounds: list[int] = []
        offset = 0
        for piece in pieces:
            bounds.append(offset)
            offset += len(piece)
        out: list[str] = []
        where: list[tuple[int, str]] = []
        fi = 0
        for index, piece in enumerate(pieces):
            start = bounds[index]
            end = start + len(piece)
            parts: list[str] = []
            pos = start
            while fi < len(findings) and findings[fi].start < end:
                f = findings[fi]
                if f.start >= pos:
                    parts.append(whole[pos : f.start])
                    parts.append(f.marker)
                    where.append((index, f.kind))
                pos = max(pos, min(f.end, end))
                if f.end > end:
                    break  # continues in the next piece
                fi += 1
            parts.append(whole[pos:end])
            out.append("".join(parts))
        return out, where

    # -- traces ----------------------------------------------------------------------------

    def before_save(self, trace: Trace) -> Trace:
        """Redact ``trace`` in place (proxy ``before_save`` hook) and return it, with each
        ``path: kind`` redacted appended to ``metadata.redacted_fields``."""
        report = self.redact_trace(trace)
        for entry in report.entries():
            if entry not in trace.metadata.redacted_fields:
                trace.metadata.redacted_fields.append(entry)
        return trace

    def redact_trace(self, trace: Trace) -> Redaction:
        """Redact ``trace`` in place; return what was found where (never the values).

        Covers the request, response, native request/response, request and response headers,
        the upstream URL, warnings, the error message, every chunk (see
        :mod:`traceforge_shared.redact.chunks`), the session id, tags and meta values."""
        report = Redaction()
        if not self.config.enabled:
            return report
        trace.request = self.redact_value(trace.request, "request", report)
        trace.response = self.redact_value(trace.response, "response", report)
        if trace.native is not None:
            trace.native.request = self.redact_value(trace.native.request, "native.request", report)
            trace.native.response = self.redact_value(
                trace.native.response, "native.response", report
            )
        meta = trace.metadata
        meta.request_headers = self.redact_headers(
            meta.request_headers, "metadata.request_headers", report
        )
        meta.response_headers = self.redact_headers(
            meta.response_headers, "metadata.response_headers", report
        )
        if meta.upstream_url:
            meta.upstream_url = self.redact_value(
                meta.upstream_url, "metadata.upstream_url", report
            )
        if meta.warnings:
            meta.warnings = self.redact_value(meta.warnings, "metadata.warnings", report)
        if meta.error is not None:
            meta.error.message = self.redact_value(
                meta.error.message, "metadata.error.message", report
            )
        redact_chunks(self, trace, report)
        # Grouping headers (X-TraceForge-Session-Id, -Tags, -Meta-*) are app text too.
        if trace.session_id:
            trace.session_id = self.redact_value(trace.session_id, "session_id", report)
        if trace.tags:
            trace.tags = self.redact_value(trace.tags, "tags", report)
        if trace.meta:
            trace.meta = self.redact_value(trace.meta, "meta", report)
        return report

    def sensitive(self, key: str) -> bool:
        """Whether ``key`` names a credential (:data:`SENSITIVE_KEYS` or configured)."""
        known = self._key_cache.get(key)
        if known is None:
            known = self._key_cache[key] = normalize_key(key) in self.sensitive_keys
        return known
