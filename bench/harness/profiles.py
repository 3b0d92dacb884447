"""Upstream profiles of the benchmark: what the fake upstream answers, chosen by model name.

A request for model ``gpt-bench-<profile>`` gets that profile's answer; ``gpt-fault-<kind>``
gets an injected fault (:data:`FAULTS`). The model names start with ``gpt-`` so that every
system under test routes them to its OpenAI-compatible upstream without extra config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """One kind of upstream answer.

    Attributes:
        name: short id, used in the model name and the report.
        stream: SSE chat-completion chunks (``stream: true``) or one JSON chat completion.
        chunks: content chunks per stream (0 for JSON answers).
        gap_ms: pause between two chunks (streams) or before the answer (JSON), in ms.
        request_kb: size of the request body the load generator sends, in KB (1 KB = 1024 B).
        description: one line for the report.
    """

    name: str
    stream: bool
    chunks: int
    gap_ms: float
    request_kb: int
    description: str

    @property
    def model(self) -> str:
        """The model name that asks the fake upstream for this profile."""
        return f"gpt-bench-{self.name}"

    @property
    def expected_s(self) -> float:
        """The upstream's own duration of one answer, in seconds (0 for instant ones)."""
        return (self.chunks * self.gap_ms if self.stream else self.gap_ms) / 1000


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("json-1kb", False, 0, 0, 1, "instant 1 KB JSON chat completion"),
        Profile("json-20ms", False, 0, 20, 1, "1 KB JSON chat completion after 20 ms"),
        Profile("sse-64x20ms", True, 64, 20, 1, "SSE stream, 64 chunks 20 ms apart"),
        Profile("sse-200", True, 200, 0, 1, "SSE stream, 200 chunks, no gap"),
        Profile("sse-200x20ms", True, 200, 20, 1, "SSE stream, 200 chunks 20 ms apart"),
        Profile("sse-500", True, 500, 0, 1, "SSE stream, 500 chunks, no gap"),
        Profile("body-40kb", False, 0, 0, 40, "40 KB request body, instant JSON answer"),
        Profile("body-400kb", False, 0, 0, 400, "400 KB request body, instant JSON answer"),
        Profile("sse-1k", True, 1_000, 0, 1, "SSE stream, 1,000 chunks, no gap"),
        Profile("sse-10k", True, 10_000, 0, 1, "SSE stream, 10,000 chunks, no gap"),
        Profile("sse-20k", True, 20_000, 0, 1, "SSE stream, 20,000 chunks, no gap"),
    )
}

#: The profiles of a default run, in the order of the report.
DEFAULT_PROFILES = (
    "json-1kb",
    "json-20ms",
    "sse-64x20ms",
    "sse-500",
    "body-40kb",
    "body-400kb",
)

#: Injected faults: ``gpt-fault-<kind>`` -> (trace status, trace error type) the proxy must
#: record. ``reset``: 5 chunks, then the connection is reset; ``http500``/``http429``: an
#: OpenAI-style error body (codes ``server_error``, ``rate_limit_exceeded``); ``stall``: 2 chunks,
#: then silence past the proxy's read timeout; ``malformed``: a complete stream with a non-JSON
#: ``data:`` line and a stray line mixed in.
FAULTS: dict[str, tuple[str, str | None]] = {
    "reset": ("upstream_error", "upstream_disconnected"),
    "http500": ("error", "server_error"),
    "http429": ("error", "rate_limit_exceeded"),
    "stall": ("upstream_error", "upstream_timeout"),
    "malformed": ("success", None),
}


#: Chunks the upstream sends in a fault stream when nothing goes wrong (``malformed``).
FAULT_CHUNKS = 16


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letters(number: int) -> bytes:
    """``number`` (>= 0) in base 26 with the letters a-z: a stamp that reads like a word, so
    that it does not look like a card or phone number to the redaction detectors."""
    out = []
    while True:
        number, digit = divmod(number, 26)
        out.append(_LETTERS[digit])
        if not number:
            return "".join(reversed(out)).encode()


def from_letters(text: bytes) -> int:
    """The inverse of :func:`letters`."""
    value = 0
    for byte in text:
        value = value * 26 + byte - 97
    return value


def profile_for(model: str) -> Profile | None:
    """The profile a model name asks for, or None."""
    return (
        PROFILES.get(model.removeprefix("gpt-bench-")) if model.startswith("gpt-bench-") else None
    )


def fault_for(model: str) -> str | None:
    """The fault a model name asks for, or None."""
    kind = model.removeprefix("gpt-fault-")
    return kind if model.startswith("gpt-fault-") and kind in FAULTS else None
